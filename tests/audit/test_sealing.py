"""Personal parts of audit events are sealed per data subject and can be shredded."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent, DataSubjectKey
from audit.sealing import Erased, Unsealer, key_destroy
from audit.services import AuditEntry, event_record, events_record_bulk
from customers.services import customer_upsert
from tests.audit.tampering import triggers_lifted

pytestmark = pytest.mark.django_db


def _customer(external_id: str = "C-1", name: str = "Huda Al-Qahtani"):
    customer, _created = customer_upsert(
        external_id=external_id,
        name=name,
        email=f"{external_id.lower()}@example.com",
        phone="+966501234567",
        postal_address="12 King Fahd Road, Riyadh",
    )
    return customer


def _stored(event: AuditEvent) -> str:
    row = AuditEvent.objects.filter(pk=event.pk).values(
        "subject_label", "before", "after", "reason"
    )[0]
    return str(row)


def test_a_customers_personal_data_is_stored_sealed_and_read_back_in_clear():
    customer = _customer()
    event = AuditEvent.objects.for_subject(customer).get()

    stored = _stored(event)
    assert "Huda" not in stored
    assert "c-1@example.com" not in stored
    assert "+966501234567" not in stored
    assert "sealed:v1:" in stored
    readable = Unsealer.for_events([event]).event(event)
    assert readable["subject_label"] == "Huda Al-Qahtani (C-1)"
    assert readable["after"]["email"] == "c-1@example.com"
    assert readable["after"]["language"] == "en"  # not personal: stored as is
    assert DataSubjectKey.objects.filter(owner=f"customer:{customer.pk}").count() == 1


def test_destroying_the_key_erases_the_values_and_keeps_the_chain_valid(capsys):
    customer = _customer()
    event_record(action="console.customer.viewed", subject=customer, reason="call")
    events = list(AuditEvent.objects.for_subject(customer))
    hashes = [e.hash for e in events]

    key = key_destroy(owner=f"customer:{customer.pk}")

    again = list(AuditEvent.objects.for_subject(customer))
    assert [e.hash for e in again] == hashes
    readable = Unsealer.for_events(again).event(again[0])
    assert readable["subject_label"] == Erased(key.destroyed)
    assert str(readable["after"]["name"]).startswith("erased on ")
    assert readable["after"]["language"] == "en"
    call_command("audit_verify")
    assert f"OK: {len(hashes)} events" in capsys.readouterr().out


def test_what_arrives_about_an_erased_subject_is_erased_at_once():
    customer = _customer()
    key_destroy(owner=f"customer:{customer.pk}")

    event = event_record(
        action="console.contact.unmasked", subject=customer, reason="asked by Huda"
    )

    assert "Huda" not in _stored(event)
    readable = Unsealer.for_events([event]).event(event)
    assert isinstance(readable["reason"], Erased)


def test_a_tamper_after_erasure_is_still_caught_at_its_sequence():
    customer = _customer()
    other = _customer("C-2", "Omar")
    key_destroy(owner=f"customer:{customer.pk}")
    target = AuditEvent.objects.for_subject(other).get()
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET action = %s WHERE sequence = %s",
            ["channels.customer.updated", target.sequence],
        )

    with pytest.raises(CommandError, match=f"sequence {target.sequence}: changed"):
        call_command("audit_verify")


def test_sealing_many_subjects_costs_the_same_queries_whatever_their_number():
    def queries_for(count: int, prefix: str) -> int:
        customers = [_customer(f"{prefix}-{n}", f"Name {n}") for n in range(count)]
        entries = [
            AuditEntry(action="console.customer.viewed", subject=c, reason="call")
            for c in customers
        ]
        with CaptureQueriesContext(connection) as captured:
            events_record_bulk(entries=entries)
        return len(captured)

    assert queries_for(3, "few") == queries_for(30, "many")
