"""Benchmark bulk dispatch end to end: trigger, render, persist, send by a worker.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/dispatch_bulk.py --emails 10000 --letters 100

Runs in a scratch database (bench_outbox_dispatch, or --database). Emails:

1. trigger N templated emails through `communications_trigger_bulk` (chunks
   of --chunk) with no worker consuming: trigger + render + persist rate;
2. a real Celery worker (prefork, --concurrency processes) sends them to an
   aiosmtpd sink in its own process on loopback: send rate, from the kick to
   the last message received;
3. with that worker running, N more are triggered: end-to-end rate, from the
   first trigger to the last message received.

Then letters: M PDF letters rendered at trigger time (pages per second, one
process) and handed to the print folder by the worker. Prints the worker's
peak resident memory (largest process, and all processes together).
"""

import argparse
import logging
import multiprocessing
import os
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

from scratch import ROOT, scratch_database_setup

QUEUE = "bench-dispatch"


def _sink_serve(
    port, ready, received, duplicated, first, last, ids=None, header=b"X-CCM-Dispatch"
) -> None:
    """Run an aiosmtpd sink counting messages by one id header (own process).

    With `ids` (a shared array), the first len(ids) duplicated ids are kept
    (the header must then hold a number, as X-CCM-Dispatch does).
    """
    import asyncio

    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)
    seen: set[bytes] = set()
    marker = header + b": "

    class Handler:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            # aiosmtpd handles pipelined commands; say so, as real servers do.
            session.host_name = hostname
            return [*responses[:-1], "250-PIPELINING", responses[-1]]

        async def handle_DATA(self, server, session, envelope):
            content = envelope.content
            start = content.find(marker) + len(marker)
            dispatch = content[start : content.find(b"\r\n", start)]
            now = time.time()
            if dispatch in seen:
                if ids is not None and duplicated.value < len(ids):
                    ids[duplicated.value] = int(dispatch)
                duplicated.value += 1
            seen.add(dispatch)
            if not received.value:
                first.value = now
            received.value += 1
            last.value = now
            return "250 OK"

    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop()
    )
    controller.start()
    ready.set()
    while True:
        time.sleep(3600)


class Sink:
    """An SMTP sink in its own process, so it does not compete for our GIL."""

    def __init__(
        self, keep_duplicates: int = 0, header: bytes = b"X-CCM-Dispatch"
    ) -> None:
        """Count messages by `header`; Message-ID counts any sender's mail."""
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.received = multiprocessing.Value("q", 0, lock=False)
        self.duplicated = multiprocessing.Value("q", 0, lock=False)
        self.first = multiprocessing.Value("d", 0.0, lock=False)
        self.last = multiprocessing.Value("d", 0.0, lock=False)
        # The ids of the first duplicates, when asked for.
        self.duplicate_ids = (
            multiprocessing.Array("q", keep_duplicates, lock=False)
            if keep_duplicates
            else None
        )
        ready = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=_sink_serve,
            args=(self.port, ready, self.received, self.duplicated)
            + (self.first, self.last, self.duplicate_ids, header),
            daemon=True,
        )
        self.process.start()
        ready.wait(10)

    def wait_for(self, count: int, timeout: float = 900, pump=None) -> float:
        """Wait until `count` messages arrived; return when the last one did.

        `pump` is called every 5 s meanwhile, as beat's periodic pump does in
        production: a worker's pump stops after 30 s, and on a busy machine
        that can be before the queue is empty.
        """
        deadline = time.time() + timeout
        pumped = time.time()
        while self.received.value < count and time.time() < deadline:
            time.sleep(0.02)
            if pump is not None and time.time() - pumped >= 5:
                pump()
                pumped = time.time()
        if self.received.value < count:
            sys.exit(f"only {self.received.value:,} of {count:,} messages arrived")
        return self.last.value


def _tree(pid: int) -> list[int]:
    """Return a process and all its descendants."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended while the tree was read
            continue
        for child in children:
            pids.extend(_tree(int(child)))
    return pids


def _cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) used by a process tree so far."""
    total = 0
    for each in _tree(pid):
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
        except FileNotFoundError:  # the process ended while the tree was read
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _postgres_cpu_seconds(database: str) -> float:
    """Return the CPU time used so far by the server processes of one database."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # A backend's title: "postgres: 15/main: user database host state".
            title = (entry / "cmdline").read_text()
            if not title.startswith("postgres: ") or f" {database} " not in title:
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """Return the machine's busy and total CPU time so far (all cores), in ticks."""
    ticks = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) - idle, sum(ticks)


def _memory_mb(pid: int) -> tuple[float, float]:
    """Return the peak RSS of the largest process in the tree and of all, in MB."""
    peaks = []
    for each in _tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks), sum(peaks)


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


def _customers(count: int, prefix: str) -> list:
    from customers.models import Customer

    return Customer.objects.bulk_create(
        Customer(
            external_id=f"B-{prefix}-{n}",
            name=f"Customer {n}",
            language="en" if n % 2 else "ar",
            email=f"{prefix}{n}@bench.example.com",
            postal_address=f"{n} King Fahd Road, Riyadh",
        )
        for n in range(count)
    )


def _trigger(customers, template: str, channel: str, data: dict, chunk: int) -> float:
    """Trigger one communication per customer in bulk calls; return the seconds."""
    from ccm.warm import Freezer
    from channels_app.dispatching import TriggerRequest, communications_trigger_bulk

    # Each call is what a batch chunk's task does in a worker, which freezes
    # its long-lived objects once warm (ccm.warm): so does this process.
    freezer = Freezer()
    started = time.perf_counter()
    for first in range(0, len(customers), chunk):
        results = communications_trigger_bulk(
            requests=[
                TriggerRequest(
                    template_code=template,
                    customer=customer,
                    data=data,
                    channels=[channel],
                )
                for customer in customers[first : first + chunk]
            ],
            requester_label="bench",
        )
        refused = [r for r in results if isinstance(r, Exception)]
        if refused:
            sys.exit(f"{len(refused)} triggers refused, e.g. {refused[0]}")
        freezer()
    return time.perf_counter() - started


def _worker(env: dict, concurrency: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ccm", "worker",
         f"--concurrency={concurrency}", "--loglevel=WARNING", "--without-mingle",
         "--without-gossip",
         # Every queue the product routes to (ccm.celery.task_route), and ours.
         f"--queues=celery,email,sms,letters,housekeeping,{QUEUE}",
         f"--hostname=bench-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )  # fmt: skip


def _worker_ready(app, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.control.ping(destination=[f"bench-{os.getpid()}@{os.uname()[1]}"]):
            return
        time.sleep(0.2)
    sys.exit("the worker did not start")


def _kick(processes: int) -> None:
    from channels_app.tasks import outbox_pump

    for _ in range(processes):
        outbox_pump.apply_async(queue=QUEUE)


def emails_measure(
    *,
    sink: Sink,
    database: str,
    template: str,
    data: dict,
    count: int,
    chunk: int,
    concurrency: int,
    prefix: str = "",
) -> tuple[dict, subprocess.Popen]:
    """Time the three stages of `count` emails; return the figures and the worker.

    1. trigger (render, persist) with no worker consuming; 2. a worker sends
    them, from the kick to the last message at the sink; 3. with the worker
    running, `count` more triggered: from the first trigger to the last
    message. CPU per message is split by process: the triggering process,
    the worker (all its processes), the sink and the database's backends.
    The worker is left running for the caller to stop.
    """
    from ccm.celery import app

    n, base = count, sink.received.value
    customers = _customers(n, f"{prefix}a")
    cpu, server = time.process_time(), _postgres_cpu_seconds(database)
    trigger_s = _trigger(customers, template, "email", data, chunk)
    figures = {
        "trigger_rate": n / trigger_s,
        "trigger_cpu_ms": (time.process_time() - cpu) / n * 1000,
        "trigger_db_ms": (_postgres_cpu_seconds(database) - server) / n * 1000,
    }
    # The triggers' kicks wait in the default queue: drop them, kick once.
    app.connection_for_write().default_channel.client.flushdb()

    worker = _worker(dict(os.environ), concurrency)
    try:
        figures.update(_sent_measure(sink, worker, app, database, count, concurrency))
        figures.update(
            _end_to_end_measure(
                sink, worker, database, template, data, count, chunk,
                concurrency, f"{prefix}b",
            )
        )  # fmt: skip
    except BaseException:  # a stage that gives up leaves no worker behind
        worker.terminate()
        raise
    figures.update(count=n, received=sink.received.value - base)
    return figures, worker


def _sent_measure(sink, worker, app, database, n, concurrency) -> dict:
    """Time a worker sending `n` queued emails, from the kick to the last one."""
    base = sink.received.value
    _worker_ready(app)
    worker_cpu, sink_cpu = _cpu_seconds(worker.pid), _cpu_seconds(sink.process.pid)
    server = _postgres_cpu_seconds(database)
    kicked = time.time()
    _kick(concurrency)
    pump = partial(_kick, concurrency)
    send_s = sink.wait_for(base + n, pump=pump) - kicked
    return {
        "send_rate": n / send_s,
        "worker_ms": (_cpu_seconds(worker.pid) - worker_cpu) / n * 1000,
        "sink_ms": (_cpu_seconds(sink.process.pid) - sink_cpu) / n * 1000,
        "send_db_ms": (_postgres_cpu_seconds(database) - server) / n * 1000,
    }


def _end_to_end_measure(
    sink, worker, database, template, data, n, chunk, concurrency, prefix
) -> dict:
    """Time `n` more emails from the first trigger to the last one received."""
    base = sink.received.value
    pump = partial(_kick, concurrency)
    customers = _customers(n, prefix)
    busy, total = _machine_busy()
    started = time.time()
    trigger_s = _trigger(customers, template, "email", data, chunk)
    end_to_end_s = sink.wait_for(base + n, pump=pump) - started
    busy_after, total_after = _machine_busy()
    largest, every = _memory_mb(worker.pid)
    return {
        "end_to_end_rate": n / end_to_end_s,
        "trigger_meanwhile_rate": n / trigger_s,
        "machine_busy": (busy_after - busy) / (total_after - total),
        "duplicated": sink.duplicated.value,
        "peak_rss_mb": largest,
        "peak_rss_all_mb": every,
    }


def figures_print(figures: dict) -> None:
    """Print the figures of `emails_measure`."""
    f = figures
    print(
        f"  trigger + render + persist  {f['trigger_rate']:8.0f} msg/s (no worker; "
        f"CPU a message: {f['trigger_cpu_ms']:.2f} ms, "
        f"PostgreSQL {f['trigger_db_ms']:.2f} ms)"
    )
    print(
        f"  worker send to SMTP sink    {f['send_rate']:8.0f} msg/s (CPU a message: "
        f"worker {f['worker_ms']:.2f} ms, sink {f['sink_ms']:.2f} ms, "
        f"PostgreSQL {f['send_db_ms']:.2f} ms)"
    )
    print(
        f"  end to end                  {f['end_to_end_rate']:8.0f} msg/s "
        f"(triggers meanwhile {f['trigger_meanwhile_rate']:.0f}/s; machine CPU "
        f"busy {f['machine_busy']:.0%} of {os.cpu_count()} cores)"
    )
    print(
        f"  received {f['received']:,}, duplicated {f['duplicated']}; worker peak "
        f"RSS {f['peak_rss_mb']:.0f} MB per process, {f['peak_rss_all_mb']:.0f} MB "
        "in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--letters", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=1000, help="triggers per call")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database", default="bench_outbox_dispatch")
    parser.add_argument(
        "--rules",
        action="store_true",
        help="seed the demo's central rules (quiet hours, caps, de-duplication)",
    )
    args = parser.parse_args()
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL=redis://127.0.0.1:6379/9 to benchmark")

    sink = Sink()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    os.environ.setdefault("CCM_VAR_DIR", str(ROOT / "var" / "bench-dispatch"))
    # No beat here: the bench kicks the worker itself, and triggers kick it.
    scratch_database_setup(args.database)
    _approve_demo_templates()
    if args.rules:
        from rules.demo import rules_demo_seed

        rules_demo_seed()
    from ccm.celery import app

    app.connection_for_write().default_channel.client.flushdb()

    reminder = {
        "customer": {"name": "Bench"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
    }
    rules = "the demo's central rules" if args.rules else "no central rules"
    print(
        f"{args.emails:,} emails, PostgreSQL + Redis, 1 worker x "
        f"{args.concurrency} processes, trigger chunks of {args.chunk}, {rules}"
    )
    figures, worker = emails_measure(
        sink=sink,
        database=args.database,
        template="payment-reminder",
        data=reminder,
        count=args.emails,
        chunk=args.chunk,
        concurrency=args.concurrency,
    )
    figures_print(figures)

    if args.letters:
        from channels_app.models import Dispatch
        from templates_app import letters
        from templates_app.models import Template

        code = "policy-renewal-letter"
        sample = Template.objects.get(code=code).sample_data
        letters.warm()
        customers = _customers(args.letters, "l")
        # With the worker consuming, triggers would compete with it for CPU.
        worker.terminate()
        worker.wait(timeout=60)
        cpu = time.process_time()
        trigger_s = _trigger(customers, code, "letter", sample, args.chunk)
        cpu_s = time.process_time() - cpu
        pages = args.letters  # the demo renewal letter is one page
        print(f"{args.letters:,} letters (one page each, half Arabic)")
        print(
            f"  render PDF + persist        {pages / trigger_s:8.1f} pages/s "
            f"({pages / cpu_s:.1f} pages per CPU second of the process)"
        )
        app.connection_for_write().default_channel.client.flushdb()
        worker = _worker(dict(os.environ), args.concurrency)
        _worker_ready(app)
        started = time.perf_counter()
        _kick(args.concurrency)
        while Dispatch.objects.filter(
            channel="letter", status__in=["queued", "sending"]
        ).exists():
            time.sleep(0.05)
        handed = args.letters / (time.perf_counter() - started)
        print(f"  hand to print folder        {handed:8.1f} letters/s")
    worker.terminate()
    worker.wait(timeout=60)
    sink.process.terminate()


if __name__ == "__main__":
    main()
