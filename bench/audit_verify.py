"""Benchmark audit_verify on a chain of 1,000,000 events on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/audit_verify.py --events 1000000

Runs in a scratch database (bench_audit_verify). Builds the chain in Python,
loads it with COPY, then times the verification (target: under 60 s).
"""

import argparse
import json
import time
from datetime import UTC, datetime, timedelta

from scratch import scratch_database_setup

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--database", default="bench_audit_verify")
    options = parser.parse_args()
    scratch_database_setup(options.database)

    started = time.perf_counter()
    last_hash = _chain_load(options.events)
    print(f"loaded {options.events:,} events in {time.perf_counter() - started:.1f} s")

    from audit.verify import chain_verify

    started = time.perf_counter()
    result = chain_verify(chunk_size=options.chunk_size)
    seconds = time.perf_counter() - started
    status = "OK" if result.ok else f"BROKEN at {result.chain_break}"
    print(
        f"verify: {status}, {result.count:,} events in {seconds:.1f} s "
        f"({result.count / seconds:,.0f} events/s)"
    )
    if not result.ok or result.last_hash != last_hash:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
