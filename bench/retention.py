"""Benchmark the retention run over many expired dispatches, and sending beside it.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/retention.py --expired 1000000 --emails 5000

Runs in a scratch database (bench_retention, or --database):

1. generates N sent, expired dispatches (email and SMS, one communication
   each, created 100 to 130 days ago) with bulk SQL: the default retention
   class keeps everything 90 days;
2. with a Celery worker sending to an aiosmtpd sink, triggers M emails and
   times them end to end (first trigger to last message received): the send
   rate alone;
3. starts the retention run (`manage.py retention_run`, its own process) and,
   once it is erasing, triggers M more emails: the send rate beside the run;
4. waits for the run: its rate (dispatches erased a second, with one audit
   event each), then runs it again: a second run erases nothing.

Prints the machine's load average and CPU use beside each figure.
"""

import argparse
import os
import subprocess
import sys
import time

from dispatch_bulk import (
    Sink,
    _approve_demo_templates,
    _customers,
    _kick,
    _machine_busy,
    _trigger,
    _worker,
    _worker_ready,
)
from scratch import ROOT, scratch_database_setup

REMINDER = {
    "customer": {"name": "Bench"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}


def _expired_generate(count: int) -> float:
    """Insert `count` sent dispatches created 100-130 days ago; return the seconds."""
    from django.db import connection

    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    version = version_in_force(Template.objects.get(code="payment-reminder"))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO channels_app_customer
                (external_id, name, language, time_zone, email, phone,
                 postal_address, digits, calendar, created, updated)
            SELECT 'X-' || n, 'Expired Customer ' || n, 'en', 'UTC',
                   'x' || n || '@bench.example.com', '+9665' || lpad(n::text, 8, '0'),
                   n || ' Olaya Street, Riyadh', '', '', now(), now()
            FROM generate_series(1, 10000) AS n
            """
        )
        cursor.execute(
            "SELECT min(id) FROM channels_app_customer WHERE external_id LIKE %s",
            ["X-%"],
        )
        first_customer = cursor.fetchone()[0]
        cursor.execute(
            """
            INSERT INTO channels_app_communication
                (public_id, template_code, category, mandatory, template_version_id,
                 customer_id, data, source_system, source_reference,
                 requester_label, idempotency_key, scope, reason,
                 correlation_key, supersedes, waits_for, created)
            SELECT gen_random_uuid(), 'payment-reminder', %s, false, %s,
                   %s + n %% 10000,
                   jsonb_build_object('customer', jsonb_build_object(
                       'name', 'Expired Customer ' || n), 'amount', n),
                   'bench', 'R-' || n, 'bench', '', '', '', '', '[]', '[]',
                   now() - interval '100 days' - (n %% 2592000) * interval '1 second'
            FROM generate_series(1, %s) AS n
            """,
            [version.template.category.code, version.pk, first_customer, count],
        )
        cursor.execute(
            """
            INSERT INTO channels_app_dispatch
                (communication_id, channel, language, address, status,
                 status_changed, due_at, attempt_count, max_attempts, subject,
                 body_html, body_text, letter_pdf, content_sha256,
                 block_versions, provider_message_id, error, severity,
                 decision, rule_decisions, created, erased_parts,
                 content_erased_cause)
            SELECT c.id, CASE WHEN mod(c.id, 4) = 0 THEN 'sms' ELSE 'email' END, 'en',
                   'x' || c.id || '@bench.example.com', 'sent', c.created,
                   c.created, 1, 5, 'Your payment is due',
                   '<p>Dear Expired Customer ' || c.id || ', your payment is due.</p>',
                   'Dear Expired Customer ' || c.id || ', your payment is due.',
                   '', md5(c.id::text) || md5(c.id::text), '{}',
                   'bench-' || c.id, '', '', '', '[]', c.created, 0, ''
            FROM channels_app_communication c WHERE c.source_system = 'bench'
            """
        )
        cursor.execute("ANALYZE channels_app_communication")
        cursor.execute("ANALYZE channels_app_dispatch")
    return time.perf_counter() - started


def _end_to_end(sink, n: int, prefix: str) -> tuple[float, float]:
    """Trigger n emails with the worker running; return (msg/s, CPU busy share)."""
    customers = _customers(n, prefix)
    expected = sink.received.value + n
    busy, total = _machine_busy()
    started = time.time()
    _trigger(customers, "payment-reminder", "email", REMINDER, 500)
    seconds = sink.wait_for(expected) - started
    busy_after, total_after = _machine_busy()
    return n / seconds, (busy_after - busy) / (total_after - total)


def _run_start(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "retention_run"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip


def _load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load {one:.1f} / {five:.1f} (1 / 5 min) on {os.cpu_count()} cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--expired", type=int, default=1_000_000)
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--database", default="bench_retention")
    args = parser.parse_args()
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL=redis://127.0.0.1:6379/9 to benchmark")

    sink = Sink()
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    os.environ.setdefault("CCM_VAR_DIR", str(ROOT / "var" / "bench-retention"))
    scratch_database_setup(args.database)
    _approve_demo_templates()
    from ccm.celery import app
    from retention.models import RetentionClass

    app.connection_for_write().default_channel.client.flushdb()
    RetentionClass.objects.filter(category__isnull=True).update(
        copies_days=90, pdfs_days=90, contacts_days=90, snapshots_days=90
    )
    print(f"retention bench: PostgreSQL + Redis, {_load()}")
    seconds = _expired_generate(args.expired)
    print(
        f"  generated {args.expired:,} expired dispatches in {seconds:.0f} s "
        f"({args.expired / seconds:,.0f}/s, bulk SQL)"
    )

    worker = _worker(dict(os.environ), args.concurrency)
    try:
        _measure(args, app, sink)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        sink.process.terminate()


def _measure(args, app, sink) -> None:
    """Time sending alone, sending beside a run, the run, and a second run."""
    from retention.models import RetentionRun

    # A busy machine starts a worker slowly.
    _worker_ready(app, timeout=600)
    _kick(args.concurrency)
    _end_to_end(sink, 200, "warm")
    alone, cpu = _end_to_end(sink, args.emails, "a")
    print(
        f"  send alone        {alone:8.0f} emails/s end to end "
        f"({args.emails:,} emails; CPU busy {cpu:.0%}; {_load()})"
    )

    run = _run_start(dict(os.environ))
    while not RetentionRun.objects.filter(dispatches__gt=0).exists():
        if run.poll() is not None:
            sys.exit(f"the run ended early: {run.stdout.read()}")
        time.sleep(0.2)
    beside, cpu = _end_to_end(sink, args.emails, "b")
    current = RetentionRun.objects.get()
    running = current.status == RetentionRun.Status.RUNNING
    print(
        f"  send beside run   {beside:8.0f} emails/s end to end "
        f"({args.emails:,} emails; CPU busy {cpu:.0%}; {_load()}; the run "
        f"{'was still running' if running else 'had FINISHED'} at the last one, "
        f"{current.dispatches:,} erased by then)"
    )
    busy, total = _machine_busy()
    run.communicate()
    busy_after, total_after = _machine_busy()
    current.refresh_from_db()
    run_s = (current.finished - current.started).total_seconds()
    print(
        f"  retention run     {current.dispatches / run_s:8.0f} dispatches/s "
        f"({current.dispatches:,} erased in {run_s:.0f} s, chunks of 500, one "
        f"audit event each; CPU busy {(busy_after - busy) / (total_after - total):.0%}"
        f" after the sends; {_load()})"
    )
    second = _run_start(dict(os.environ))
    second.communicate()
    again = RetentionRun.objects.latest("started")
    print(
        f"  second run        {(again.finished - again.started).total_seconds():8.2f} s"
        f": {again.examined:,} examined, {again.dispatches:,} erased"
    )


if __name__ == "__main__":
    main()
