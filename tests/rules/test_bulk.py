"""The rules cost a fixed number of queries per call, whatever the batch size."""

from datetime import time

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from channels_app import ruling as engine
from channels_app.models import Communication, Dispatch
from customers.models import Customer
from templates_app.selectors import version_in_force
from tests.factories import rule_build
from tests.rules.conftest import cap, dedupe, sms_quiet_hours

pytestmark = pytest.mark.django_db


@pytest.fixture
def every_rule(templates):
    sms_quiet_hours()
    cap(3, 24 * 7)
    cap(1, 24, mode="defer", name="One a day, deferred")
    dedupe()
    rule_build(
        name="Email quiet hours",
        kind="quiet_hours",
        channel="email",
        quiet_start=time(22),
        quiet_end=time(7),
        exempt_categories="security",
    )
    return version_in_force(templates["payment-reminder"])


def _communications(version, n: int, prefix: str) -> list[Communication]:
    customers = Customer.objects.bulk_create(
        Customer(
            external_id=f"{prefix}-{i}",
            name=f"Customer {i}",
            time_zone=["Asia/Riyadh", "America/New_York", "Pacific/Kiritimati"][i % 3],
            phone="+966501234567",
            email=f"{prefix}{i}@example.com",
        )
        for i in range(n)
    )
    return Communication.objects.bulk_create(
        Communication(
            template_code="payment-reminder",
            category="collections",
            template_version=version,
            customer=customer,
            data={},
            requester_label="bulk",
            correlation_key=f"ACC-{i % 7}" if i % 2 else "",
            supersedes=["payment-reminder"] if i % 5 == 0 else [],
            waits_for=["payment-reminder"] if i % 3 == 0 else [],
        )
        for i, customer in enumerate(customers)
    )


def _new_dispatches(communications) -> list[Dispatch]:
    now = timezone.now()
    return [
        Dispatch(
            communication=c,
            channel=channel,
            address="x",
            language="en",
            status_changed=now,
            due_at=now,
            content_sha256="0" * 64,
        )
        for c in communications
        for channel in ("sms", "email")
    ]


def _trigger_queries(version, n: int) -> int:
    dispatches = _new_dispatches(_communications(version, n, f"t{n}"))
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        engine.trigger_evaluate(dispatches=dispatches, now=timezone.now())
    return len(queries)


def _reads(queries) -> int:
    return sum(1 for q in queries if q["sql"].lstrip().upper().startswith("SELECT"))


def _recheck_queries(version, n: int) -> tuple[int, int]:
    dispatches = Dispatch.objects.bulk_create(
        _new_dispatches(_communications(version, n, f"r{n}"))
    )
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        held = engine.due_recheck(ids=[d.pk for d in dispatches], now=timezone.now())
    assert held  # the batch exercises every write: deferrals, holds, cancels
    return len(queries), _reads(queries)


def test_trigger_evaluation_queries_do_not_grow_with_the_batch(every_rule):
    _trigger_queries(every_rule, 10)  # warm the content-type cache
    small = _trigger_queries(every_rule, 100)
    large = _trigger_queries(every_rule, 2000)

    assert large == small
    assert small <= 12


def test_the_due_recheck_queries_do_not_grow_with_the_batch(every_rule):
    _recheck_queries(every_rule, 10)  # warm the content-type cache
    small, small_reads = _recheck_queries(every_rule, 100)
    large, large_reads = _recheck_queries(every_rule, 2000)

    # Two of the reads are consent's: the ledgers and the suppressions.
    assert large_reads == small_reads <= 12
    # Bulk writes are split by SQLite's parameter limit; PostgreSQL takes them whole.
    if connection.vendor == "postgresql":
        # Moves taking the same values share a statement (up to 8 sets of values).
        assert large == small <= 24
