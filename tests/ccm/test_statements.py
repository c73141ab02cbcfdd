"""A statement compiled once answers each call's values as the ORM would."""

import uuid
from datetime import datetime

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccm.statements import Marker, statement
from customers.models import Customer, PreferenceEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers():
    return [
        Customer.objects.create(external_id=f"ST-{n}", name=f"Name {n}", language=lang)
        for n, lang in enumerate(["en", "ar", "ar"])
    ]


def _by_language(language):
    return (
        Customer.objects.filter(language=language)
        .order_by("pk")
        .values("pk", "external_id", "created")
    )


def test_rows_are_the_orms_for_each_calls_values(customers):
    made = statement(("test.by_language",), _by_language, Marker("language", str))

    for language in ("en", "ar", "fr"):
        assert made.rows(language=language) == list(_by_language(language))
    # Converted as the ORM converts them, on every database.
    assert isinstance(made.rows(language="en")[0]["created"], datetime)


def test_the_statement_is_compiled_once_and_run_as_one_query(customers):
    made = statement(("test.by_language",), _by_language, Marker("language", str))
    again = statement(("test.by_language",), _by_language, Marker("language", str))
    assert again is made
    with CaptureQueriesContext(connection) as queries:
        made.rows(language="ar")
    assert len(queries) == 1


def test_instances_carry_their_annotations(customers):
    PreferenceEntry.objects.create(
        customer=customers[1],
        channel="email",
        opted_in=False,
        source="admin",
        recorded_at=timezone.now(),
    )

    def flagged(pk):
        return Customer.objects.annotate(
            has_preferences=Exists(
                PreferenceEntry.objects.filter(customer=OuterRef("pk"))
            )
        ).filter(pk=pk)

    made = statement(("test.flagged",), flagged, Marker("pk"))

    [with_one] = made.instances(pk=customers[1].pk)
    [without] = made.instances(pk=customers[0].pk)
    assert (with_one, without) == (customers[1], customers[0])
    assert with_one.has_preferences and not without.has_preferences
    assert made.instances(pk=-1) == []


def test_a_stand_in_the_orm_rewrites_otherwise_is_refused_when_made():
    # A value folded in Python reaches the statement as no pattern writes it.
    with pytest.raises(ValueError, match="'name' does not reach"):
        statement(
            ("test.upper",),
            lambda name: Customer.objects.filter(name=name.upper()),
            Marker("name", str),
        )


@pytest.fixture
def named():
    return [
        Customer.objects.create(external_id=f"LK-{n}", name=name, email=email)
        for n, (name, email) in enumerate(
            [
                ("Sarah Carter", "sarah.carter@example.com"),
                ("Carter_Hughes", "c_h@example.com"),
                ("50% Reed", "reed%50@example.org"),
                ("Amelia CARTER", "AMELIA@Example.com"),
            ]
        )
    ]


@pytest.mark.parametrize(
    "lookup",
    ["iexact", "startswith", "istartswith", "contains", "icontains", "iendswith"],
)
@pytest.mark.parametrize(
    "value", ["carter", "Carter", "_", "%", "50%", "c_h@", "example.com", "AMELIA@"]
)
def test_a_pattern_lookups_value_is_written_as_the_orm_writes_it(named, lookup, value):
    def build(text):
        return (
            Customer.objects.filter(
                Q(**{f"name__{lookup}": text}) | Q(**{f"email__{lookup}": text})
            )
            .order_by("pk")
            .values("external_id")
        )

    made = statement(("test.lookup", lookup), build, Marker("text", str))

    # LIKE's wildcards in the value match only themselves, as with the ORM.
    assert made.rows(text=value) == list(build(value))


def test_one_value_in_an_exact_and_a_pattern_lookup_takes_both_places(named):
    def build(text):
        return Customer.objects.filter(
            Q(external_id=text) | Q(name__icontains=text)
        ).values("external_id")

    made = statement(("test.both",), build, Marker("text", str))

    assert {row["external_id"] for row in made.rows(text="LK-0")} == {"LK-0"}
    assert {row["external_id"] for row in made.rows(text="carter")} == {
        "LK-0",
        "LK-1",
        "LK-3",
    }


def test_two_whole_number_values_of_one_statement_each_take_their_place(customers):
    made = statement(
        ("test.two_ids",),
        lambda first, second: (
            Customer.objects.filter(Q(pk=first) | Q(pk=second))
            .order_by("pk")
            .values("external_id")
        ),
        Marker("first"),
        Marker("second"),
    )

    rows = made.rows(first=customers[2].pk, second=customers[0].pk)
    assert [row["external_id"] for row in rows] == ["ST-0", "ST-2"]


def test_a_uuid_value_takes_its_place_on_every_database(customers):
    """A UUID reaches PostgreSQL as itself and SQLite as its hex digits."""
    from channels_app.models import Communication
    from tests.factories import approved_version_build, dispatch_build

    version = approved_version_build()
    first, second = (
        dispatch_build(version=version, customer=customer).communication
        for customer in customers[:2]
    )
    made = statement(
        ("test.by_public_id",),
        lambda public_id: Communication.objects.select_related("customer").filter(
            public_id=public_id
        ),
        Marker("public_id", uuid.UUID),
    )

    for communication in (first, second):
        (found,) = made.instances(public_id=communication.public_id)
        assert found.pk == communication.pk
        assert found.customer.external_id == communication.customer.external_id
    assert made.instances(public_id=uuid.uuid4()) == []


def _by_pk(pk):
    return Customer.objects.filter(pk=pk)


def _prepared_here(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            [f"%{table}%"],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
@pytest.mark.parametrize("pooled", [False, True])
def test_a_prepared_statement_is_planned_once_per_connection_and_still_logged(
    customers, settings, pooled
):
    """PostgreSQL keeps one prepared statement for every call's values; the
    calls are still seen by query logging. Behind PgBouncer in transaction
    mode nothing is prepared (the next transaction may be on another
    server connection)."""
    settings.DATABASE_TRANSACTION_POOLING = pooled
    made = statement(("test.prepared", pooled), _by_pk, Marker("pk"), prepare=True)

    with CaptureQueriesContext(connection) as queries:
        for customer in customers:
            assert made.instance(pk=customer.pk).external_id == customer.external_id
        assert made.instance(pk=customers[-1].pk + 1000) is None

    assert len(queries) == 4
    assert _prepared_here(Customer._meta.db_table) == (0 if pooled else 1)


def test_a_statement_with_a_pattern_is_not_prepared():
    with pytest.raises(ValueError, match="LIKE pattern is not prepared"):
        statement(
            ("test.prepared.pattern",),
            lambda name: Customer.objects.filter(name__startswith=name),
            Marker("name", str),
            prepare=True,
        )
