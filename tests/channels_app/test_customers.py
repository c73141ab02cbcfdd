"""Customers are upserted by external id, with phones stored as E.164."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from customers.models import Customer
from customers.services import customer_upsert, phone_normalise

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+966 50 123 4567", "+966501234567"),
        ("0501234567", "+966501234567"),
        ("00966501234567", "+966501234567"),
        ("+44 20 7946 0018", "+442079460018"),
    ],
)
def test_phone_numbers_are_stored_in_e164(typed, stored):
    assert phone_normalise(typed) == stored


@pytest.mark.parametrize("typed", ["12", "not a phone", "+966 12"])
def test_an_invalid_phone_number_is_refused_naming_it(typed):
    with pytest.raises(ValidationError) as refused:
        phone_normalise(typed)

    assert typed in str(refused.value.message_dict["phone"])


def test_upsert_creates_then_updates_by_external_id_with_audit_and_history():
    customer, created = customer_upsert(
        external_id="C-1", name="Nora", phone="0501234567", language="ar"
    )
    again, created_again = customer_upsert(external_id="C-1", email="nora@example.com")

    assert created and not created_again
    assert again.pk == customer.pk
    stored = Customer.objects.get(external_id="C-1")
    assert (stored.phone, stored.email, stored.language) == (
        "+966501234567",
        "nora@example.com",
        "ar",
    )
    actions = list(
        AuditEvent.objects.filter(object_id=str(customer.pk))
        .order_by("sequence")
        .values_list("action", flat=True)
    )
    assert actions == ["channels.customer.created", "channels.customer.updated"]
    assert [h.history_change_reason for h in stored.history.order_by("history_id")] == [
        "created",
        "updated",
    ]


def test_an_unchanged_upsert_writes_nothing():
    customer_upsert(external_id="C-2", name="Omar")
    before = AuditEvent.objects.count()

    customer_upsert(external_id="C-2", name="Omar")

    assert AuditEvent.objects.count() == before


def test_an_unknown_time_zone_is_refused_and_nothing_is_saved():
    with pytest.raises(ValidationError) as refused:
        customer_upsert(external_id="C-3", name="Zed", time_zone="Mars/Olympus")

    assert "Mars/Olympus is not a known time zone" in str(refused.value)
    assert not Customer.objects.filter(external_id="C-3").exists()
