"""Compare the peer, django-post-office, with our pipeline on the same work.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/peer_compare.py --emails 10000 --rounds 2

Both systems run on this machine against the same PostgreSQL server (scratch
databases bench_peer_post_office and bench_peer_ours) and one aiosmtpd sink in
its own process, which counts received and duplicated messages by Message-ID.
Both render the same ~2 KB HTML statement (ten variables, a loop over five
items, a conditional; the source is valid in Django's template language and
in our sandboxed Jinja2 engine) with the same data, plus a subject and a text
part. The peer (django-post-office, a `bench` extra, never imported by the
product) runs in processes of its own with its own settings module
(bench/peer_settings.py); ours runs with the consent check, the demo's
central rules and the audit trail on, as in production.

Each round runs the peer, then ours (--rounds, at least 2, alternates them,
since the machine is shared), each in three stages of --emails messages:

1. enqueue / trigger: the peer's `mail.send_many`, our
   `communications_trigger_bulk` (chunks of --chunk), nothing sending;
2. send: one sending process (the peer's `send_queued` in a loop; our Celery
   worker, --concurrency processes) from the start to the last message at
   the sink;
3. end to end: the sender running while --emails more are enqueued, from the
   first enqueue to the last message received.

CPU per message is read per process from /proc: the enqueuing process, the
sender (all its processes), the sink and the PostgreSQL backends of each
database. Their sum gives each system's CPU ceiling on this machine (cores /
CPU-seconds per email), and the end-to-end rate is printed as a share of it.
Ours also goes through the entry point a user has, POST /api/v1/batches with
--emails rows under gunicorn (from the POST to the last message), and, in the
last round, --memory emails through one worker whose resident memory is
printed as they go (flat or growing). The machine's load is printed: on a
shared machine the rates fall with the CPU others take, the ratios less so.
"""

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from pathlib import Path

from cryptography.fernet import Fernet
from dispatch_bulk import (
    Sink,
    _cpu_seconds,
    _kick,
    _machine_busy,
    _postgres_cpu_seconds,
    _tree,
    emails_measure,
)
from scratch import ROOT, scratch_database_setup

PEER_DATABASE = "bench_peer_post_office"
OURS_DATABASE = "bench_peer_ours"
TEMPLATE_CODE = "bench-statement"
API_PORT = 8160

# One source for both engines: these constructs read the same in Django's
# template language and in Jinja2 (both escape HTML in the values).
SUBJECT = "Your statement for account {{ account_number }}, {{ period_end }}"
TEXT = (
    "Dear {{ customer_name }},\n\nYour statement for account {{ account_number }} "
    "({{ period_start }} to {{ period_end }}):\n"
    "{% for item in items %}{{ item.date }}  {{ item.description }}  "
    "{{ item.amount }} {{ currency }}\n{% endfor %}"
    "Closing balance: {{ closing_balance }} {{ currency }}\n"
)
CELL = 'style="padding:6px 8px;border-bottom:1px solid #e3e8ef"'
HTML = (
    '<div style="font-family:Arial,Helvetica,sans-serif;max-width:640px;'
    'margin:0 auto;color:#222;line-height:1.45">\n'
    '<h1 style="font-size:20px;color:#1d4e89;margin:0 0 12px">Account statement</h1>\n'
    "<p>Dear {{ customer_name }},</p>\n"
    "<p>This is your statement for account <strong>{{ account_number }}</strong> "
    "for the period {{ period_start }} to {{ period_end }}, issued on "
    "{{ statement_date }}. Please check the movements below and keep this "
    "message for your records.</p>\n"
    '<table style="width:100%;border-collapse:collapse;font-size:14px">\n'
    '<thead><tr style="background:#f0f4f8">'
    f"<th {CELL}>Date</th><th {CELL}>Description</th>"
    f'<th {CELL} align="right">Amount</th></tr></thead>\n<tbody>\n'
    "{% for item in items %}"
    f"<tr><td {CELL}>{{{{ item.date }}}}</td><td {CELL}>{{{{ item.description }}}}"
    f'</td><td {CELL} align="right">{{{{ item.amount }}}} {{{{ currency }}}}</td>'
    "</tr>\n{% endfor %}</tbody>\n</table>\n"
    '<p style="margin-top:14px">Opening balance: {{ opening_balance }} '
    "{{ currency }}<br>\nClosing balance: <strong>{{ closing_balance }} "
    "{{ currency }}</strong></p>\n"
    "{% if overdue %}"
    '<p style="color:#b00020;font-weight:bold">Your account is overdue: please '
    "pay the closing balance within seven days to avoid a late payment fee.</p>"
    "{% else %}"
    '<p style="color:#2e7d32">Thank you: your account is up to date.</p>'
    "{% endif %}\n"
    '<p style="font-size:13px;color:#555">Questions about this statement? Call '
    "us on +966 11 000 0000, Sunday to Thursday from 8:00 to 17:00, or visit any "
    "branch. Never share your passcodes: we will never ask for them by phone or "
    "email.</p>\n"
    '<p style="font-size:11px;color:#777;border-top:1px solid #e3e8ef;'
    'padding-top:8px">Gulf Mutual Insurance is licensed by the Insurance '
    "Authority. Commercial registration 1010000000. King Fahd Road, Riyadh "
    "12271.</p>\n</div>"
)
DATA = {
    "customer_name": "Fatimah Al-Harbi",
    "account_number": "AC-20451877",
    "statement_date": "2026-12-01",
    "period_start": "2026-11-01",
    "period_end": "2026-11-30",
    "currency": "SAR",
    "opening_balance": "4,210.00",
    "closing_balance": "3,575.50",
    "overdue": True,
    "items": [
        {"date": f"2026-11-{5 * n:02d}", "description": d, "amount": a}
        for n, (d, a) in enumerate(
            [
                ("Premium instalment", "-1,250.50"),
                ("Claim settlement 88213", "900.00"),
                ("Late payment fee", "-50.00"),
                ("Refund of overcharge", "15.75"),
                ("Premium instalment", "-249.75"),
            ],
            start=1,
        )
    ],
}
SCHEMA = {
    "type": "object",
    "required": [k for k in DATA if k != "items"] + ["items"],
    "properties": {
        **{k: {"type": "string"} for k in DATA if k not in ("items", "overdue")},
        "overdue": {"type": "boolean"},
        "items": {
            "type": "array",
            "maxItems": 50,
            "items": {
                "type": "object",
                "required": ["date", "description", "amount"],
                "properties": {
                    "date": {"type": "string"},
                    "description": {"type": "string"},
                    "amount": {"type": "string"},
                },
            },
        },
    },
}


def _rss_mb(pid: int) -> list[float]:
    """Return the resident memory now of each process in a tree, in MB."""
    sizes = []
    for each in _tree(pid):
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


def _ceiling(cpu_ms: float) -> float:
    """Return the emails per second this machine's cores allow at `cpu_ms` each."""
    return (os.cpu_count() or 1) * 1000 / cpu_ms


# The peer ---------------------------------------------------------------------


def peer_sender_main() -> None:
    """Run the peer's sending process: `send_queued` in a loop once told to go."""
    import django

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    django.setup()
    from django.db import connection
    from post_office.mail import send_queued

    # The peer logs every batch at INFO on its own handler.
    logging.getLogger("post_office").setLevel(logging.WARNING)
    connection.ensure_connection()
    print("ready", flush=True)
    sys.stdin.readline()
    while True:
        sent, failed, requeued = send_queued(processes=1)
        if failed:
            print(f"peer: {failed} failed", file=sys.stderr, flush=True)
        if not (sent or failed or requeued):
            time.sleep(0.02)


def _peer_sender(env: dict) -> subprocess.Popen:
    sender = subprocess.Popen(
        [sys.executable, __file__, "--peer-sender"],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    if sender.stdout.readline().strip() != "ready":
        sys.exit("the peer's sender did not start")
    return sender


def _peer_enqueue(template, count: int, chunk: int, prefix: str) -> float:
    """Queue `count` templated emails with `mail.send_many`; return the seconds."""
    from post_office import mail

    started = time.perf_counter()
    for first in range(0, count, chunk):
        mail.send_many(
            [
                {
                    "recipients": [f"{prefix}{n}@bench.example.com"],
                    "template": template,
                    "context": DATA,
                }
                for n in range(first, min(count, first + chunk))
            ]
        )
    return time.perf_counter() - started


def peer_run(sink: Sink, args, results) -> None:
    """Measure the peer's three stages (a forked process of its own)."""
    url = scratch_database_setup(PEER_DATABASE, settings="peer_settings")
    from django.db import connections
    from post_office.models import EmailTemplate

    template = EmailTemplate.objects.create(
        name="statement", subject=SUBJECT, content=TEXT, html_content=HTML
    )
    n, base = args.emails, sink.received.value
    cpu, server = time.process_time(), _postgres_cpu_seconds(PEER_DATABASE)
    enqueue_s = _peer_enqueue(template, n, args.chunk, "pa")
    figures = {
        "trigger_rate": n / enqueue_s,
        "trigger_cpu_ms": (time.process_time() - cpu) / n * 1000,
        "trigger_db_ms": (_postgres_cpu_seconds(PEER_DATABASE) - server) / n * 1000,
    }
    connections.close_all()
    env = {**os.environ, "DATABASE_URL": url, "EMAIL_PORT": str(sink.port)}
    env["DJANGO_SETTINGS_MODULE"] = "peer_settings"
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent)
    sender = _peer_sender(env)
    sender_cpu, sink_cpu = _cpu_seconds(sender.pid), _cpu_seconds(sink.process.pid)
    server = _postgres_cpu_seconds(PEER_DATABASE)
    started = time.time()
    sender.stdin.write("go\n")
    sender.stdin.flush()
    send_s = sink.wait_for(base + n) - started
    figures.update(
        send_rate=n / send_s,
        worker_ms=(_cpu_seconds(sender.pid) - sender_cpu) / n * 1000,
        sink_ms=(_cpu_seconds(sink.process.pid) - sink_cpu) / n * 1000,
        send_db_ms=(_postgres_cpu_seconds(PEER_DATABASE) - server) / n * 1000,
    )
    busy, total = _machine_busy()
    started = time.time()
    enqueue_s = _peer_enqueue(template, n, args.chunk, "pb")
    end_to_end_s = sink.wait_for(base + 2 * n) - started
    busy_after, total_after = _machine_busy()
    figures.update(
        end_to_end_rate=n / end_to_end_s,
        trigger_meanwhile_rate=n / enqueue_s,
        machine_busy=(busy_after - busy) / (total_after - total),
        received=sink.received.value - base,
        duplicated=sink.duplicated.value,
        sender_rss_mb=max(_rss_mb(sender.pid)),
    )
    sender.terminate()
    sender.wait(timeout=30)
    results.put(figures)


# Ours -------------------------------------------------------------------------


def _statement_template_approve() -> None:
    """Create the statement template in our product, approved and in force."""
    from django.contrib.auth import get_user_model

    from templates_app import services
    from templates_app.models import Category, Template
    from templates_app.validation import ContentDraft

    users = get_user_model().objects
    author, reviewer = (
        users.get(username=f"bench-{r}") for r in ("author", "reviewer")
    )
    template = services.template_save(
        template=Template(
            code=TEMPLATE_CODE,
            name="Account statement",
            category=Category.objects.get(code="collections"),
            description="Monthly account statement (benchmark).",
            channels=["email"],
            default_language="en",
            data_schema=SCHEMA,
            sample_data=DATA,
        ),
        actor=author,
    )
    version = services.version_draft_create(template=template, author=author)
    services.version_content_save(
        version=version,
        contents=[
            ContentDraft(
                channel="email",
                language="en",
                fields={"subject": SUBJECT, "html": HTML, "text": TEXT},
            )
        ],
        actor=author,
    )
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer, comment="Benchmark.")


def _batch_post(port: int, token: str, count: int, prefix: str) -> float:
    """POST one batch of `count` new customers; return the seconds it took."""
    body = json.dumps(
        {
            "template": TEMPLATE_CODE,
            "channels": ["email"],
            "source_system": "bench",
            "rows": [
                {
                    "customer": {
                        "external_id": f"API-{prefix}-{n}",
                        "name": f"Customer {n}",
                        "email": f"api{prefix}{n}@bench.example.com",
                        "language": "en",
                    },
                    "data": DATA,
                }
                for n in range(count)
            ],
        }
    )
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request(
        "POST",
        "/api/v1/batches",
        body=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Token {token}",
            "Idempotency-Key": f"bench-batch-{prefix}",
        },
    )
    answer = conn.getresponse()
    text = answer.read()
    if answer.status != 202:
        sys.exit(f"POST /api/v1/batches answered {answer.status}: {text[:500]!r}")
    return time.perf_counter() - started


def _batch_api_measure(
    sink: Sink, worker, url: str, count: int, tag: str, pump
) -> dict:
    """Send `count` emails through POST /api/v1/batches under gunicorn."""
    from api_load import gunicorn_start, seed
    from django.db import connections

    token = seed()
    connections.close_all()
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    server = gunicorn_start(API_PORT, 2, env)
    try:
        base = sink.received.value
        meters = [server.pid, worker.pid, sink.process.pid]
        cpu = [_cpu_seconds(pid) for pid in meters]
        database = _postgres_cpu_seconds(OURS_DATABASE)
        started = time.time()
        post_s = _batch_post(API_PORT, token, count, tag)
        end_to_end_s = sink.wait_for(base + count, pump=pump) - started
        spent = [_cpu_seconds(pid) - c for pid, c in zip(meters, cpu, strict=True)]
        database = _postgres_cpu_seconds(OURS_DATABASE) - database
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return {
        "post_s": post_s,
        "rate": count / end_to_end_s,
        "cpu_ms": {
            name: seconds / count * 1000
            for name, seconds in zip(
                ("gunicorn", "worker", "sink", "PostgreSQL"),
                [*spent, database],
                strict=True,
            )
        },
    }


def _memory_measure(sink: Sink, worker, count: int, chunk: int, pump) -> list:
    """Send `count` emails through the running worker; return its RSS as they go."""
    from dispatch_bulk import _customers, _trigger

    base = sink.received.value
    marks = [m for m in (2_000, 5_000, 10_000, 20_000, 30_000, 50_000) if m <= count]
    samples = []

    def watch() -> None:
        for mark in marks:
            while sink.received.value - base < mark:
                time.sleep(0.1)
            samples.append((mark, _rss_mb(worker.pid)))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    for first in range(0, count, 10_000):
        size = min(10_000, count - first)
        _trigger(_customers(size, f"m{first}-"), TEMPLATE_CODE, "email", DATA, chunk)
    sink.wait_for(base + count, timeout=1800, pump=pump)
    watcher.join(timeout=30)
    return samples


def ours_run(sink: Sink, args, memory: int, results) -> None:
    """Measure our three stages, the batch API and memory (a forked process)."""
    os.environ.update(EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    os.environ.setdefault("CCM_VAR_DIR", str(ROOT / "var" / "bench-peer"))
    # Production settings, as the peer runs with DEBUG off: no query log in
    # the triggering process, the worker or gunicorn. The audit master key
    # (required then, docs/audit.md) is the same in all three.
    os.environ.update(
        DEBUG="false",
        SECRET_KEY="bench-only-" + "k" * 50,
        AUDIT_MASTER_KEY=os.environ.get("AUDIT_MASTER_KEY")
        or Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
    )
    url = scratch_database_setup(OURS_DATABASE)
    from dispatch_bulk import _approve_demo_templates

    from rules.demo import rules_demo_seed

    _approve_demo_templates()
    rules_demo_seed()
    _statement_template_approve()
    from ccm.celery import app

    app.connection_for_write().default_channel.client.flushdb()
    figures, worker = emails_measure(
        sink=sink,
        database=OURS_DATABASE,
        template=TEMPLATE_CODE,
        data=DATA,
        count=args.emails,
        chunk=args.chunk,
        concurrency=args.concurrency,
    )
    pump = partial(_kick, args.concurrency)
    try:
        if args.batch_api:
            figures["batch_api"] = _batch_api_measure(
                sink, worker, url, args.emails, f"r{os.getpid()}", pump
            )
        if memory:
            figures["memory"] = _memory_measure(sink, worker, memory, args.chunk, pump)
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    results.put(figures)


# The comparison ---------------------------------------------------------------


def _cpu_ms(f: dict) -> float:
    return (
        f["trigger_cpu_ms"]
        + f["trigger_db_ms"]
        + f["worker_ms"]
        + f["sink_ms"]
        + f["send_db_ms"]
    )


def _stages_print(name: str, f: dict) -> None:
    cpu = _cpu_ms(f)
    ceiling = _ceiling(cpu)
    print(
        f"  {name:<6} enqueue {f['trigger_rate']:6.0f}/s  send {f['send_rate']:6.0f}/s"
        f"  end to end {f['end_to_end_rate']:6.0f}/s  "
        f"(received {f['received']:,}, duplicated {f['duplicated']})"
    )
    print(
        f"         CPU an email: enqueue {f['trigger_cpu_ms']:.2f} + db "
        f"{f['trigger_db_ms']:.2f}, send {f['worker_ms']:.2f} + sink "
        f"{f['sink_ms']:.2f} + db {f['send_db_ms']:.2f} = {cpu:.2f} ms; "
        f"ceiling {ceiling:.0f}/s, end to end at "
        f"{f['end_to_end_rate'] / ceiling:.0%} of it; machine busy "
        f"{f['machine_busy']:.0%}"
    )


def _run(target, *extra) -> dict:
    results = multiprocessing.Queue()
    process = multiprocessing.Process(target=target, args=(*extra, results))
    process.start()
    figures = None
    while figures is None:
        try:
            figures = results.get(timeout=1)
        except Exception:  # noqa: BLE001 - queue.Empty: still running
            if not process.is_alive():
                sys.exit(f"{target.__name__} ended with {process.exitcode}")
    process.join(timeout=60)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=1000, help="messages per call")
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--memory", type=int, default=50_000, help="0: skip")
    parser.add_argument(
        "--no-batch-api", dest="batch_api", action="store_false", help="skip the API"
    )
    parser.add_argument("--peer-sender", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer_sender:
        peer_sender_main()
        return
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL=redis://127.0.0.1:6379/9 to benchmark")

    sink = Sink(header=b"Message-ID")
    print(
        f"{args.emails:,} emails a stage, the same ~{len(HTML):,} B statement "
        f"(loop of {len(DATA['items'])}, a conditional, {len(DATA) - 1} variables "
        f"and items); {os.cpu_count()} cores, load average "
        f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    rounds = []
    for number in range(1, args.rounds + 1):
        print(f"round {number}", flush=True)
        peer = _run(peer_run, sink, args)
        _stages_print("peer", peer)
        memory = args.memory if number == args.rounds else 0
        ours = _run(ours_run, sink, args, memory)
        _stages_print("ours", ours)
        if api := ours.get("batch_api"):
            cpu = ", ".join(f"{k} {v:.2f}" for k, v in api["cpu_ms"].items())
            print(
                f"  ours through POST /api/v1/batches ({args.emails:,} rows, "
                f"gunicorn): {api['rate']:.0f}/s end to end (the POST answered "
                f"in {api['post_s']:.1f} s; CPU an email: {cpu} ms)"
            )
        print(
            f"  ratio ours / peer: end to end "
            f"{ours['end_to_end_rate'] / peer['end_to_end_rate']:.2f}x, enqueue "
            f"{ours['trigger_rate'] / peer['trigger_rate']:.2f}x, send "
            f"{ours['send_rate'] / peer['send_rate']:.2f}x; CPU an email ours "
            f"{_cpu_ms(ours):.2f} ms, peer {_cpu_ms(peer):.2f} ms",
            flush=True,
        )
        rounds.append((peer, ours))
    for mark, sizes in ours.get("memory", []):
        print(
            f"  ours worker RSS after {mark:>6,} emails: "
            + " + ".join(f"{size:.0f}" for size in sizes)
            + f" MB (peer sender: {peer['sender_rss_mb']:.0f} MB after "
            f"{2 * args.emails:,})"
        )
    ratios = [o["end_to_end_rate"] / p["end_to_end_rate"] for p, o in rounds]
    shares = [
        o["end_to_end_rate"] * _cpu_ms(o) / 1000 / os.cpu_count() for _, o in rounds
    ]
    print(
        f"end to end, ours / peer: {', '.join(f'{r:.2f}x' for r in ratios)} "
        f"(target 2x); ours at {', '.join(f'{s:.0%}' for s in shares)} of its CPU "
        f"ceiling (target 85%); load average now "
        f"{'/'.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    sink.process.terminate()


if __name__ == "__main__":
    main()
