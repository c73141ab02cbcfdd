"""Benchmark bulk dispatch end to end: trigger, render, persist, send by a worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/dispatch_bulk.py --emails 10000 --letters 100

Runs in a scratch database (bench_dispatch). Triggers N templated emails
through the real trigger service, then starts a real Celery worker (prefork,
2 processes) that sends them to an aiosmtpd sink on loopback, and prints
messages per second for each stage, end to end, and the worker's peak memory.
Then the same for PDF letters (pages per second).
"""

import argparse
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from scratch import ROOT, scratch_database_setup


class Sink:
    def __init__(self) -> None:
        self.counts: Counter = Counter()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        marker = b"X-CCM-Dispatch: "
        start = envelope.content.find(marker) + len(marker)
        dispatch = envelope.content[start : envelope.content.find(b"\r\n", start)]
        with self.lock:
            self.counts[dispatch] += 1
        return "250 OK"


def _peak_rss_mb(pid: int) -> float:
    """Return the peak resident memory of a process and its children, in MB."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            total += _peak_rss_mb(int(child)) * 1024
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            total += int(line.split()[1])
    return total / 1024


def _approve_demo_templates() -> None:
    """Seed the demo templates, approved through the workflow and in force."""
    from django.contrib.auth import get_user_model

    from templates_app.demo import demo_approved_seed

    users = [
        get_user_model().objects.get_or_create(
            username=f"bench-{role}",
            defaults={"is_superuser": True, "is_staff": True},
        )[0]
        for role in ("author", "reviewer", "reviewer-2")
    ]
    demo_approved_seed(author=users[0], reviewer=users[1], second_reviewer=users[2])


def _trigger(count: int, template: str, channel: str, data: dict) -> float:
    from channels_app.dispatching import communication_trigger
    from channels_app.models import Customer

    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"B-{channel}-{n}",
            name=f"Customer {n}",
            language="en" if n % 2 else "ar",
            email=f"c{n}@bench.example.com",
            postal_address=f"{n} King Fahd Road, Riyadh",
        )
        for n in range(count)
    )
    started = time.perf_counter()
    for customer in customers:
        communication_trigger(
            template_code=template,
            customer=customer,
            data=data,
            channels=[channel],
            requester_label="bench",
        )
    return time.perf_counter() - started


def _worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ccm", "worker", "--concurrency=2",
         "--loglevel=WARNING", "--without-mingle", "--without-gossip"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _kick(workers: int = 2) -> None:
    from channels_app.tasks import outbox_pump

    for _ in range(workers):
        outbox_pump.apply_async()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--letters", type=int, default=100)
    args = parser.parse_args()
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL=redis://127.0.0.1:6379/9 to benchmark")

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)

    sink = Sink()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(sink, hostname="127.0.0.1", port=port)
    smtp.start()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port))
    os.environ.setdefault("CCM_VAR_DIR", str(ROOT / "var" / "bench-dispatch"))
    # No periodic pump from beat here: the bench kicks the worker itself.
    os.environ["OUTBOX_PUMP_INTERVAL_SECONDS"] = "3600"
    scratch_database_setup("bench_dispatch")
    _approve_demo_templates()
    from ccm.celery import app

    app.connection_for_write().default_channel.client.flushdb()

    reminder = {
        "customer": {"name": "Bench"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
    }
    trigger_s = _trigger(args.emails, "payment-reminder", "email", reminder)
    print(f"{args.emails:,} emails, PostgreSQL + Redis, 1 worker x 2 processes")
    print(f"  trigger + render + persist  {args.emails / trigger_s:8.0f} msg/s")

    worker = _worker(dict(os.environ))
    started = time.perf_counter()
    _kick()
    deadline = started + 600
    while sum(sink.counts.values()) < args.emails and time.perf_counter() < deadline:
        time.sleep(0.05)
    send_s = time.perf_counter() - started
    peak = _peak_rss_mb(worker.pid)
    duplicates = sum(1 for n in sink.counts.values() if n > 1)
    print(f"  worker send to SMTP sink    {args.emails / send_s:8.0f} msg/s")
    end_to_end = args.emails / (trigger_s + send_s)
    print(f"  end to end                  {end_to_end:8.0f} msg/s")
    print(f"  received {sum(sink.counts.values()):,}, duplicated {duplicates}")
    print(f"  worker peak memory          {peak:8.0f} MB (all processes)")

    if args.letters:
        from channels_app.models import Dispatch
        from templates_app.models import Template

        code = "policy-renewal-letter"
        sample = Template.objects.get(code=code).sample_data
        trigger_s = _trigger(args.letters, code, "letter", sample)
        pages = args.letters  # the demo renewal letter is one page
        print(f"{args.letters:,} letters")
        print(f"  render PDF + persist        {pages / trigger_s:8.1f} pages/s")
        started = time.perf_counter()
        _kick()
        while (
            Dispatch.objects.filter(channel="letter", status="queued").exists()
            and time.perf_counter() - started < 300
        ):
            time.sleep(0.1)
        handed = args.letters / (time.perf_counter() - started)
        print(f"  hand to print folder        {handed:8.1f} letters/s")
    worker.terminate()
    worker.wait(timeout=30)
    smtp.stop()


if __name__ == "__main__":
    main()
