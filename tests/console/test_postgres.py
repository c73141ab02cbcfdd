"""On PostgreSQL, search and timeline read indexes rather than whole tables."""

import pytest
from django.db import connection

from console import selectors
from console.indexes import SEARCH_INDEXES
from customers.models import Customer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _plan(queryset) -> str:
    with connection.cursor() as cursor:
        # Statistics of this test's rows, not those left by earlier tests that
        # committed thousands (the planner would cost another path).
        cursor.execute(
            "ANALYZE channels_app_customer, channels_app_communication, "
            "channels_app_dispatch"
        )
        # Small test tables would be scanned whole; make the planner show the
        # path it takes on a big one.
        cursor.execute("SET LOCAL enable_seqscan = off")
        return queryset.explain()


def test_migrations_create_the_trigram_and_digit_indexes():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'channels_app_customer'"
        )
        names = {row[0] for row in cursor.fetchall()}
    assert set(SEARCH_INDEXES) <= names


@pytest.mark.parametrize(
    ("queryset", "index"),
    [
        (lambda: Customer.objects.filter(name__icontains="harbi"), "name_trgm"),
        (lambda: Customer.objects.filter(email__istartswith="reem.h"), "email_prefix"),
        (
            lambda: Customer.objects.filter(name__istartswith="reem al"),
            "name_prefix",
        ),
        (
            lambda: Customer.objects.filter(phone__startswith="+96650123"),
            "phone_prefix",
        ),
    ],
)
def test_search_conditions_use_their_index(queryset, index, customer):
    assert f"console_customer_{index}" in _plan(queryset())


def test_a_partial_phone_number_reads_the_suffix_index(customer):
    from django.db.models.functions import Reverse

    queryset = Customer.objects.annotate(r=Reverse("phone")).filter(
        r__startswith="7654321"
    )
    assert "console_customer_phone_suffix" in _plan(queryset)
    [found] = selectors.customers_search("123 4567").customers
    assert found["id"] == customer.pk


def test_the_timeline_reads_the_customer_index(customer, email_dispatch):
    from channels_app.models import Communication

    # Other customers' communications: on a one-row table every index costs
    # the same and the planner picks any, reading it whole.
    other = Customer.objects.create(external_id="OTHER-1", name="Other")
    columns = [
        f.column for f in Communication._meta.concrete_fields if not f.primary_key
    ]
    copied = [
        {"public_id": "gen_random_uuid()", "customer_id": "%s"}.get(c, c)
        for c in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO channels_app_communication ({', '.join(columns)}) "  # noqa: S608
            f"SELECT {', '.join(copied)} FROM channels_app_communication, "
            "generate_series(1, 2000)",
            [other.pk],
        )
    plan = _plan(selectors.timeline(customer)[:25])

    assert "Seq Scan on channels_app_communication" not in plan
    # Through an index on the customer's id. Which one is the planner's pick on
    # tables this small, and moves with the statistics earlier tests left; on
    # a big table it is communication_cust_idx (bench/console_queries.py).
    assert "Index Cond: (customer_id = " in plan, plan


def test_a_long_timeline_page_reads_only_the_rows_of_the_page(customer, email_dispatch):
    """A customer with 2,000 dispatches: page 1 reads about 26 of them, not all."""
    import json

    from django.test.utils import CaptureQueriesContext

    from channels_app.models import Communication, Dispatch

    def copied(model, replace: dict) -> tuple[str, str]:
        columns = [f.column for f in model._meta.concrete_fields if not f.primary_key]
        return ", ".join(columns), ", ".join(replace.get(c, c) for c in columns)

    with connection.cursor() as cursor:
        columns, values = copied(
            Communication,
            {
                "public_id": "gen_random_uuid()",
                "created": "created - g * interval '1 s'",
            },
        )
        cursor.execute(
            f"INSERT INTO channels_app_communication ({columns}) "  # noqa: S608
            f"SELECT {values} FROM channels_app_communication, "
            "generate_series(1, 2000) g"
        )
        columns, values = copied(Dispatch, {"communication_id": "c.id"})
        values = ", ".join(v if v == "c.id" else f"d.{v}" for v in values.split(", "))
        cursor.execute(
            f"INSERT INTO channels_app_dispatch ({columns}) "  # noqa: S608
            f"SELECT {values} FROM channels_app_dispatch d, "
            "channels_app_communication c WHERE c.id <> d.communication_id"
        )
        cursor.execute("ANALYZE channels_app_communication, channels_app_dispatch")
    with CaptureQueriesContext(connection) as queries:
        page = selectors.timeline_rows(customer, selectors.TimelineFilter(), 0, 26)
    assert len(page) == 26
    assert [row["pk"] for row in page] == [
        row["pk"] for row in selectors.timeline(customer)[:26]
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + queries.captured_queries[-1]["sql"]
        )
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def dispatch_rows(node) -> int:
        here = 0
        if node.get("Relation Name") == "channels_app_dispatch":
            here = node["Actual Rows"] * node["Actual Loops"]
        return here + sum(dispatch_rows(child) for child in node.get("Plans", []))

    # The page and the bound's walk: about 26 each, not 2,001.
    assert dispatch_rows(plan[0]["Plan"]) <= 80
