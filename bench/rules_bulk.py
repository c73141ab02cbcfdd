"""Benchmark the central rules on 100,000 dispatches, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        .venv/bin/python bench/rules_bulk.py --dispatches 100000

Runs in a scratch database (bench_rules) with the default rules plus a cap and
a dedupe that bite, customers spread over time zones (Riyadh, New York,
Kiritimati, Pago Pago) and a sent history to count. Prints, for one trigger
evaluation of every new dispatch at once and for due rechecks in claim-sized
batches of 500: seconds, dispatches per second, queries, and what the rules
decided.
"""

import argparse
import time
from collections import Counter
from datetime import timedelta

from scratch import scratch_database_setup

ZONES = ["Asia/Riyadh", "America/New_York", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


def _approve_demo_templates() -> None:
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


def _rules() -> None:
    from rules.demo import demo_operator, rule_seed_approved, rules_demo_seed

    rules_demo_seed()
    rule_seed_approved(
        proposer=demo_operator("operator"),
        approver=demo_operator("operator-2"),
        name="Collections: at most 2 a week",
        kind="frequency_cap",
        categories="collections",
        cap_count=2,
        window_hours=24 * 7,
        cap_mode="defer",
    )


def _population(count: int, now):
    """Return `count` saved communications, half of their customers with history."""
    from channels_app.models import Communication, Dispatch
    from customers.models import Customer
    from templates_app.models import Template
    from templates_app.selectors import version_in_force

    version = version_in_force(Template.objects.get(code="payment-reminder"))
    customers = Customer.objects.bulk_create(
        (
            Customer(
                external_id=f"R-{n}",
                name=f"Customer {n}",
                time_zone=ZONES[n % len(ZONES)],
                phone="+966501234567",
                email=f"r{n}@example.com",
            )
            for n in range(count)
        ),
        batch_size=5000,
    )

    def communication(customer, n, **fields):
        return Communication(
            template_code="payment-reminder",
            category="collections",
            template_version=version,
            customer=customer,
            data={},
            requester_label="bench",
            correlation_key=f"ACC-{n}",
            **fields,
        )

    history = Communication.objects.bulk_create(
        (communication(c, n) for n, c in enumerate(customers[::2])), batch_size=5000
    )
    Dispatch.objects.bulk_create(
        (
            Dispatch(
                communication=c,
                channel="sms",
                address="+966501234567",
                language="en",
                status=Dispatch.Status.SENT,
                status_changed=now - timedelta(days=2),
                due_at=now - timedelta(days=2 + n % 3),
                content_sha256="0" * 64,
            )
            for n, c in enumerate(history)
        ),
        batch_size=5000,
    )
    return Communication.objects.bulk_create(
        (
            communication(
                c,
                n,
                supersedes=["payment-reminder"] if n % 10 == 0 else [],
                waits_for=["payment-reminder"] if n % 10 == 5 else [],
            )
            for n, c in enumerate(customers)
        ),
        batch_size=5000,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dispatches", type=int, default=100_000)
    parser.add_argument("--recheck", type=int, default=20_000)
    args = parser.parse_args()
    scratch_database_setup("bench_rules")

    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext
    from django.utils import timezone

    from channels_app import ruling as engine
    from channels_app.models import Dispatch

    _approve_demo_templates()
    _rules()
    now = timezone.now()
    started = time.perf_counter()
    communications = _population(args.dispatches, now)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give
    print(
        f"population: {args.dispatches:,} customers and communications, "
        f"{args.dispatches // 2:,} sent in history "
        f"({time.perf_counter() - started:.1f} s)"
    )

    dispatches = [
        Dispatch(
            communication=c,
            channel="sms",
            address="+966501234567",
            language="en",
            status_changed=now,
            due_at=now,
            content_sha256="0" * 64,
        )
        for c in communications
    ]
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        verdicts = engine.trigger_evaluate(dispatches=dispatches, now=now)
        elapsed = time.perf_counter() - started
        for n, dispatch in enumerate(dispatches):
            verdict = verdicts[n]
            dispatch.status, dispatch.due_at = verdict.status, verdict.due_at
            dispatch.rule_decisions = verdict.decisions
        Dispatch.objects.bulk_create(dispatches, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    outcomes = Counter(
        d.rule_decisions[-1]["outcome"] if d.rule_decisions else d.status
        for d in dispatches
    )
    print(
        f"trigger_evaluate: {len(dispatches):,} dispatches in {elapsed:.2f} s "
        f"({len(dispatches) / elapsed:,.0f}/s), "
        f"{len(queries) - 1} queries (incl. the insert), outcomes {dict(outcomes)}"
    )

    ids = list(
        Dispatch.objects.filter(status=Dispatch.Status.QUEUED)
        .order_by("id")
        .values_list("id", flat=True)[: args.recheck]
    )
    later = max(
        Dispatch.objects.filter(id__in=ids[:1]).values_list("due_at", flat=True)
    )
    later = max(later, now) + timedelta(days=1)
    held = total_queries = 0
    started = time.perf_counter()
    for start in range(0, len(ids), 500):
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            held += len(engine.due_recheck(ids=ids[start : start + 500], now=later))
        total_queries += len(queries)
    elapsed = time.perf_counter() - started
    batches = max(1, -(-len(ids) // 500))
    print(
        f"due_recheck: {len(ids):,} dispatches in {batches} batches of 500 in "
        f"{elapsed:.2f} s ({len(ids) / elapsed:,.0f}/s, "
        f"{1000 * elapsed / batches:.0f} ms and {total_queries / batches:.0f} "
        f"queries per batch), {held:,} held"
    )


if __name__ == "__main__":
    main()
