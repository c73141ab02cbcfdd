"""Consent and preferences hold across products; suppressions hold against all."""

import pytest

from audit.sealing import event_readable
from customers.consent import consent_decide
from customers.models import PreferenceEntry
from customers.services import customer_upsert, preference_set, suppression_add

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    customer, _ = customer_upsert(
        external_id="C-100",
        name="Huda",
        email="huda@example.com",
        phone="+966501234567",
        postal_address="1 King Fahd Rd, Riyadh",
    )
    return customer


def _set(customer, **fields):
    defaults = {
        "source": PreferenceEntry.Source.CONTACT_CENTER,
        "legal_basis": PreferenceEntry.LegalBasis.CONSENT,
    }
    return preference_set(customer=customer, **{**defaults, **fields})


def test_customer_wide_paperless_stops_letters_for_every_product(customer):
    _set(customer, channel="letter", opted_in=False, note="paperless")

    for scope in ("card-1234", "loan-99", ""):
        decision = consent_decide(
            customer=customer, channel="letter", category="billing", scope=scope
        )
        assert not decision.allowed
        assert "opted out of letter customer-wide" in decision.reason
    assert consent_decide(
        customer=customer, channel="email", category="billing"
    ).allowed


def test_a_product_opt_out_stays_with_that_product(customer):
    _set(
        customer, channel="sms", category="marketing", scope="card-1234", opted_in=False
    )

    assert not consent_decide(
        customer=customer, channel="sms", category="marketing", scope="card-1234"
    ).allowed
    assert consent_decide(
        customer=customer, channel="sms", category="marketing", scope="loan-99"
    ).allowed


def test_the_newest_instruction_wins(customer):
    _set(customer, channel="email", category="marketing", opted_in=False)
    _set(customer, channel="email", category="marketing", opted_in=True)

    assert consent_decide(
        customer=customer, channel="email", category="marketing"
    ).allowed


def test_marketing_needs_an_opt_in_but_service_does_not(customer):
    assert not consent_decide(
        customer=customer, channel="email", category="offers", requires_opt_in=True
    ).allowed
    assert consent_decide(
        customer=customer, channel="email", category="billing"
    ).allowed


def test_mandatory_notices_override_an_opt_out(customer):
    _set(customer, channel="any", opted_in=False)

    decision = consent_decide(
        customer=customer, channel="email", category="regulatory", mandatory=True
    )

    assert decision.allowed
    assert "mandatory category overrides opt-out" in decision.reason


def test_a_hard_suppression_beats_even_a_mandatory_notice(customer):
    suppression_add(channel="email", address="huda@example.com", reason="hard_bounce")

    decision = consent_decide(
        customer=customer, channel="email", category="regulatory", mandatory=True
    )

    assert not decision.allowed and decision.hard
    assert "huda@example.com is suppressed on email" in decision.reason


def test_no_contact_point_is_a_hard_stop(customer):
    customer.email = ""

    decision = consent_decide(customer=customer, channel="email", category="billing")

    assert not decision.allowed and decision.hard
    assert "no email contact point" in decision.reason


def test_every_preference_is_audited_and_kept_in_history(customer):
    from audit.models import AuditEvent

    entry = _set(customer, channel="sms", opted_in=False, note="customer asked")

    event = AuditEvent.objects.filter(action="channels.preference.set").get()
    assert event.after["channel"] == "sms" and event.after["opted_in"] is False
    assert event_readable(event)["reason"] == "customer asked"
    assert entry.history.count() == 1
