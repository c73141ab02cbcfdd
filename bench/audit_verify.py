"""Benchmark audit_verify on a chain of 1,000,000 events on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/audit_verify.py --events 1000000 \
        [--reuse] [--before DIR] [--rounds 2] [--workers 2]

Runs in a scratch database (bench_audit_verify). Builds the chain in Python,
loads it with COPY (`--reuse`: keeps a database an earlier run filled with as
many events), then times the verification, each timing in a fresh process:
one walk, and `--workers` processes checking ranges side by side. With
`--before DIR` (a checkout of the code to compare with, e.g. `git worktree
add --detach /tmp/before <commit>`), that code's verification is timed in
turn with this one's, `--rounds` times, so a busy machine weighs on both
alike; the load average is printed with every line. Target: >= 100,000
events/s.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scratch import ROOT, scratch_database_setup

ACTIONS = [
    "channels.dispatch.queued",
    "channels.dispatch.sent",
    "channels.dispatch.delivered",
    "templates.version.approved",
]
COLUMNS = (
    "sequence, created, actor_kind, actor_label, action, content_type_id, "
    "object_id, subject_label, before, after, reason, correlation_id, "
    "prev_hash, hash"
)


def _chain_load(events: int) -> str:
    """Build and COPY `events` chained events; return the last hash."""
    from django.contrib.auth.models import User
    from django.contrib.contenttypes.models import ContentType
    from django.db import connection, transaction

    from audit.hashing import GENESIS_HASH, event_hash
    from audit.models import AuditChainHead

    subject_type = ContentType.objects.get_for_model(User)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    prev_hash = GENESIS_HASH
    with transaction.atomic(), connection.cursor() as cursor:
        copy_sql = f"COPY audit_auditevent ({COLUMNS}) FROM STDIN"
        with cursor.cursor.copy(copy_sql) as copy:
            for sequence in range(1, events + 1):
                created = start + timedelta(milliseconds=sequence)
                action = ACTIONS[sequence % len(ACTIONS)]
                object_id = str(sequence % 5000)
                subject_label = f"customer {object_id}"
                before = {"status": "queued"} if sequence % 2 else None
                after = {"status": "sent", "dispatch": sequence, "cost": 0.05}
                reason = "bulk campaign" if sequence % 3 == 0 else ""
                correlation_id = f"bench-{sequence // 100}"
                actor_label = f"agent-{sequence % 20}"
                hash_ = event_hash(
                    prev_hash=prev_hash,
                    sequence=sequence,
                    created=created,
                    actor_kind="user",
                    actor_label=actor_label,
                    action=action,
                    subject_type="auth.user",
                    object_id=object_id,
                    subject_label=subject_label,
                    before=before,
                    after=after,
                    reason=reason,
                    correlation_id=correlation_id,
                )
                copy.write_row(
                    (
                        sequence,
                        created,
                        "user",
                        actor_label,
                        action,
                        subject_type.pk,
                        object_id,
                        subject_label,
                        None if before is None else json.dumps(before),
                        json.dumps(after),
                        reason,
                        correlation_id,
                        prev_hash,
                        hash_,
                    )
                )
                prev_hash = hash_
        AuditChainHead.objects.update_or_create(
            pk=1, defaults={"last_sequence": events, "last_hash": prev_hash}
        )
        cursor.execute("ANALYZE audit_auditevent")
    return prev_hash


def _chain_held() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        return cursor.fetchone()[0]


def _timing(code: Path, workers: int, chunk_size: int) -> dict:
    """Verify the chain with the code under `code`; return what it took.

    Runs in this (fresh) process: DATABASE_URL names the filled database.
    """
    sys.path.insert(0, str(code))
    os.environ["DJANGO_SETTINGS_MODULE"] = "ccm.settings"
    import django

    django.setup()
    from audit.verify import chain_verify

    options = {"chunk_size": chunk_size}
    if workers > 1:
        options["workers"] = workers
    cpu, started = time.process_time(), time.perf_counter()
    result = chain_verify(**options)
    seconds = time.perf_counter() - started
    children = os.times()
    return {
        "ok": result.ok,
        "count": result.count,
        "last_hash": result.last_hash,
        "seconds": seconds,
        "cpu": time.process_time()
        - cpu
        + children.children_user
        + children.children_system,
    }


def _timed(url: str, code: Path, workers: int, chunk_size: int) -> dict:
    """Run `_timing` in a new process and return its figures."""
    run = subprocess.run(  # noqa: S603 (this script, with its own arguments)
        [
            sys.executable,
            __file__,
            "--timing",
            str(code),
            "--workers",
            str(workers),
            "--chunk-size",
            str(chunk_size),
        ],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        raise SystemExit(f"timing with {code} failed:\n{run.stderr}")
    return json.loads(run.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", default="bench_audit_verify")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--before", type=Path, help="a checkout of the code before")
    parser.add_argument("--timing", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.timing:
        figures = _timing(options.timing, options.workers, options.chunk_size)
        print(json.dumps(figures))
        return

    url = scratch_database_setup(options.database, keep=options.reuse)
    last_hash = None
    if not (options.reuse and _chain_held() == options.events):
        started = time.perf_counter()
        last_hash = _chain_load(options.events)
        seconds = time.perf_counter() - started
        print(f"loaded {options.events:,} events in {seconds:.1f} s")
    else:
        print(f"reusing {options.database}: {options.events:,} events")

    runs = [("after, 1 walk", ROOT, 1)]
    if options.workers > 1:
        runs.append((f"after, {options.workers} workers", ROOT, options.workers))
    if options.before:
        runs.insert(0, ("before", options.before.resolve(), 1))
    print(
        f"{os.cpu_count()} cores; each line a fresh process, chunk size "
        f"{options.chunk_size:,}"
    )
    print(f"  {'':<22} {'events/s':>10} {'wall s':>7} {'CPU s':>7}   load 1/5 min")
    failed = False
    for round_ in range(1, options.rounds + 1):
        for label, code, workers in runs:
            load = os.getloadavg()
            figures = _timed(url, code, workers, options.chunk_size)
            status = "" if figures["ok"] else "  BROKEN"
            last_hash = last_hash or figures["last_hash"]
            failed |= not figures["ok"] or figures["last_hash"] != last_hash
            print(
                f"  {round_}: {label:<19} "
                f"{figures['count'] / figures['seconds']:>10,.0f} "
                f"{figures['seconds']:>7.1f} {figures['cpu']:>7.1f}   "
                f"{load[0]:.1f} / {load[1]:.1f}{status}"
            )
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
