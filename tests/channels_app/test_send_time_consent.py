"""Consent is asked again when a dispatch falls due, not only when it is triggered.

An opt-out or a hard suppression recorded after a message was queued stops it
when it is claimed for sending: a scheduled email, an SMS deferred by quiet
hours, a retry, a batch row with a send time, a letter for the print vendor.
Mandatory notices still override opt-outs, never a hard suppression.
"""

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from ccm.roles import AGENT
from channels_app.batches import batch_create, batch_run
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from channels_app.outbox import dispatches_claim, dispatches_send
from customers.models import PreferenceEntry, Suppression
from customers.services import customer_upsert, preference_set, suppression_add
from tests.factories import rule_build, user_build
from tests.smtp import free_port

pytestmark = pytest.mark.django_db
Status = Dispatch.Status

REMINDER = {
    "customer": {"name": "Fatimah Al-Harbi"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}


@pytest.fixture
def templates(demo_templates):
    return demo_templates


@pytest.fixture
def customer(db):
    customer, _ = customer_upsert(
        external_id="C-77",
        name="Fatimah Al-Harbi",
        language="en",
        time_zone="UTC",
        email="fatimah@example.com",
        phone="+966501234567",
        postal_address="12 Olaya St, Riyadh",
    )
    return customer


def _trigger(customer, *, channels, when, template_code="payment-reminder", **fields):
    return communication_trigger(
        customer=customer,
        template_code=template_code,
        data=fields.pop("data", REMINDER),
        channels=channels,
        requester_label="core-banking",
        source_system="core-banking",
        scheduled_for=when,
        **fields,
    )


def _opt_out(customer, channel: str = PreferenceEntry.ANY_CHANNEL, **fields):
    return preference_set(
        customer=customer,
        channel=channel,
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
        **fields,
    )


def _send_due(at: datetime) -> dict[str, int]:
    """Claim and send what is due at `at`, as a worker would then."""
    claimed = dispatches_claim(now=at, limit=500)
    return dispatches_send(ids=claimed) if claimed else {}


def _only(communication) -> Dispatch:
    return communication.dispatches.get()


def _consent_refusal(dispatch: Dispatch) -> dict:
    dispatch.refresh_from_db()
    assert dispatch.status == Status.SUPPRESSED
    decision = dispatch.rule_decisions[-1]
    assert decision["rule"] == "consent"
    assert decision["outcome"] == "suppressed"
    assert decision["stage"] == "due"
    assert dispatch.decision == decision["reason"]
    assert dispatch.status_changes.last().status == Status.SUPPRESSED
    return decision


def test_an_opt_out_after_queueing_stops_a_scheduled_email(
    templates, customer, smtp_sink
):
    due = timezone.now() + timedelta(days=3)
    dispatch = _only(_trigger(customer, channels=["email"], when=due))
    assert dispatch.status == Status.QUEUED
    entry = _opt_out(customer)

    assert _send_due(due + timedelta(minutes=1)) == {}

    assert smtp_sink.messages == []
    decision = _consent_refusal(dispatch)
    assert decision["ledger_entry"] == entry.pk
    assert "opted out" in decision["reason"]
    assert "customer-wide" in decision["reason"]
    event = AuditEvent.objects.get(
        action="channels.dispatch.suppressed", object_id=str(dispatch.pk)
    )
    assert event.after["ledger_entry"] == entry.pk
    assert event.after["stage"] == "due"


def test_a_hard_bounce_after_queueing_stops_a_scheduled_email(
    templates, customer, smtp_sink
):
    due = timezone.now() + timedelta(days=3)
    dispatch = _only(_trigger(customer, channels=["email"], when=due))
    suppression = suppression_add(
        channel="email",
        address=customer.email,
        reason=Suppression.Reason.HARD_BOUNCE,
        detail="550 mailbox unavailable",
    )

    _send_due(due + timedelta(minutes=1))

    assert smtp_sink.messages == []
    decision = _consent_refusal(dispatch)
    assert decision["suppression"] == suppression.pk
    assert "suppressed" in decision["reason"]


def test_an_sms_deferred_by_quiet_hours_is_stopped_by_an_opt_out_when_it_falls_due(
    templates, customer, settings, tmp_path
):
    settings.SMS_FILE_DIR = tmp_path / "sms"
    rule_build(
        name="SMS quiet hours",
        kind="quiet_hours",
        channel="sms",
        quiet_start=time(21),
        quiet_end=time(8),
        exempt_mandatory=True,
    )
    tomorrow = (timezone.now() + timedelta(days=1)).date()
    late = datetime.combine(tomorrow, time(23), tzinfo=UTC)
    dispatch = _only(_trigger(customer, channels=["sms"], when=late))
    assert dispatch.status == Status.QUEUED
    assert dispatch.due_at == datetime.combine(
        tomorrow + timedelta(days=1), time(8), tzinfo=UTC
    )
    _opt_out(customer, channel="sms")

    _send_due(dispatch.due_at + timedelta(minutes=1))

    assert not list(Path(settings.SMS_FILE_DIR).glob("*"))
    _consent_refusal(dispatch)
    outcomes = [d["outcome"] for d in dispatch.rule_decisions]
    assert outcomes == ["deferred", "suppressed"]


def test_a_retry_is_stopped_by_an_opt_out_recorded_after_the_failure(
    templates, customer, smtp_sink, settings
):
    now = timezone.now()
    dispatch = _only(_trigger(customer, channels=["email"], when=now))
    working_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nothing listens: a transient failure
    _send_due(now + timedelta(seconds=1))
    dispatch.refresh_from_db()
    assert dispatch.status == Status.QUEUED
    assert dispatch.attempt_count == 1
    settings.EMAIL_PORT = working_port
    _opt_out(customer, channel="email", category="collections")

    _send_due(dispatch.due_at + timedelta(seconds=1))

    assert smtp_sink.messages == []
    decision = _consent_refusal(dispatch)
    assert dispatch.attempt_count == 1
    assert "email" in decision["reason"]


def test_a_batch_row_with_a_send_time_is_stopped_by_an_opt_out_since_the_upload(
    templates, smtp_sink
):
    operator = user_build(username="batch-op")
    send_at = timezone.now() + timedelta(hours=6)
    rows = [
        {
            "customer": {
                "external_id": f"B-{n}",
                "name": f"Customer {n}",
                "email": f"b{n}@example.com",
            },
            "data": {**REMINDER, "customer": {"name": f"Customer {n}"}},
            "source_reference": f"INV-{n}",
        }
        for n in range(3)
    ]
    batch = batch_create(
        template_code="payment-reminder",
        channels=["email"],
        rows=rows,
        requested_by=operator,
        requester_label=operator.username,
        source_system="tests",
        scheduled_for=send_at,
    )
    batch_run(batch=batch)
    queued = Dispatch.objects.filter(status=Status.QUEUED).order_by("id")
    assert queued.count() == 3
    refused = queued.get(address="b1@example.com")
    _opt_out(refused.communication.customer, channel="email")

    assert _send_due(send_at + timedelta(minutes=1)) == {"sent": 2}

    assert sorted(m["To"] for m in smtp_sink.messages) == [
        "b0@example.com",
        "b2@example.com",
    ]
    _consent_refusal(refused)


def test_a_letter_queued_for_the_print_vendor_is_stopped_by_going_paperless(
    templates, customer, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    due = timezone.now() + timedelta(days=1)
    letter = _only(
        _trigger(
            customer,
            template_code="policy-renewal-letter",
            data=templates["policy-renewal-letter"].sample_data,
            channels=["letter"],
            when=due,
        )
    )
    assert letter.status == Status.QUEUED
    # Paperless, set once for every product.
    entry = _opt_out(customer, channel="letter")

    _send_due(due + timedelta(minutes=1))

    assert not list((Path(settings.MEDIA_ROOT) / "print").rglob("*.pdf"))
    assert _consent_refusal(letter)["ledger_entry"] == entry.pk


def test_a_mandatory_notice_overrides_an_opt_out_at_send_time_but_never_a_hard_bounce(
    templates, customer, settings, tmp_path
):
    settings.SMS_FILE_DIR = tmp_path / "sms"
    due = timezone.now() + timedelta(hours=1)
    passcode = {"code": "482913", "expires_minutes": 5}
    first, second = (
        _only(
            _trigger(
                customer,
                template_code="one-time-passcode",
                data=passcode,
                channels=["sms"],
                when=due,
            )
        )
        for _ in range(2)
    )
    _opt_out(customer)

    assert _send_due(due + timedelta(minutes=1)) == {"sent": 2}

    suppression_add(
        channel="sms", address=customer.phone, reason=Suppression.Reason.INVALID_NUMBER
    )
    third = _only(
        _trigger(
            customer,
            template_code="one-time-passcode",
            data=passcode,
            channels=["sms"],
            when=None,
        )
    )
    assert third.status == Status.SUPPRESSED  # refused at the trigger already
    later = _only(
        _trigger(
            customer,
            template_code="one-time-passcode",
            data=passcode,
            channels=["sms"],
            when=due + timedelta(hours=1),
        )
    )
    assert later.status == Status.SUPPRESSED
    for dispatch in (first, second):
        dispatch.refresh_from_db()
        assert dispatch.status == Status.SENT


def test_a_mandatory_notice_queued_before_a_hard_bounce_is_stopped_when_due(
    templates, customer, settings, tmp_path
):
    settings.SMS_FILE_DIR = tmp_path / "sms"
    due = timezone.now() + timedelta(hours=1)
    dispatch = _only(
        _trigger(
            customer,
            template_code="one-time-passcode",
            data={"code": "482913", "expires_minutes": 5},
            channels=["sms"],
            when=due,
        )
    )
    suppression = suppression_add(
        channel="sms", address=customer.phone, reason=Suppression.Reason.INVALID_NUMBER
    )

    _send_due(due + timedelta(minutes=1))

    assert not list(Path(settings.SMS_FILE_DIR).glob("*"))
    assert _consent_refusal(dispatch)["suppression"] == suppression.pk


def test_the_agent_and_the_evidence_pack_show_what_stopped_the_dispatch(
    templates, customer, client
):
    due = timezone.now() + timedelta(days=1)
    dispatch = _only(_trigger(customer, channels=["email"], when=due))
    entry = _opt_out(customer)
    _send_due(due + timedelta(minutes=1))
    agent = user_build(username="consent-agent", role=AGENT)
    client.force_login(agent)

    page = client.get(reverse("console:dispatch", args=[dispatch.pk]))
    evidence = client.get(
        reverse("console:dispatch-evidence", args=[dispatch.pk]), {"format": "json"}
    )

    assert page.status_code == 200
    html = page.content.decode()
    assert "opted out" in html
    assert f"#{entry.pk}" in html
    # The copy was rendered when queued, but never reached the customer.
    assert "Exact copy as rendered, never sent" in html
    assert "Exact copy as sent" not in html
    assert evidence.status_code == 200
    decisions = evidence.json()["dispatches"][0]["rule_decisions"]
    assert decisions[-1]["ledger_entry"] == entry.pk
