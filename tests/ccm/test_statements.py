"""A statement compiled once answers each call's values as the ORM would."""

from datetime import datetime

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
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


def test_a_stand_in_the_orm_rewrites_is_refused_when_made():
    with pytest.raises(ValueError, match="'name' does not reach"):
        statement(
            ("test.contains",),
            lambda name: Customer.objects.filter(name__icontains=name),
            Marker("name", str),
        )


@pytest.mark.parametrize("lookup", ["istartswith", "contains", "endswith"])
def test_a_lookup_that_rewrites_its_value_is_refused(lookup):
    with pytest.raises(ValueError, match="'email' does not reach"):
        statement(
            ("test.lookup", lookup),
            lambda email: Customer.objects.filter(**{f"email__{lookup}": email}),
            Marker("email", str),
        )


def test_two_whole_number_values_of_one_statement_each_take_their_place(customers):
    from django.db.models import Q

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
