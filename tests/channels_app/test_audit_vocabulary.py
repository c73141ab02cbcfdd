"""Each channels_app service writes exactly the audit events it is known for."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from channels_app import lifecycle, outbox, services
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch, Escalation
from customers import services as customer_services
from tests.factories import demo_templates_approved, user_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def written():
    """Return a function listing the actions recorded since the last call."""
    seen = {
        "last": AuditEvent.objects.order_by("-sequence")
        .values_list("sequence", flat=True)
        .first()
        or 0
    }

    def new_actions() -> list[str]:
        events = list(
            AuditEvent.objects.filter(sequence__gt=seen["last"]).order_by("sequence")
        )
        if events:
            seen["last"] = events[-1].sequence
        return [event.action for event in events]

    return new_actions


def test_every_channels_service_writes_its_events(written, smtp_sink, settings):
    settings.DISPATCH_RETRY_BASE_SECONDS = 0
    demo_templates_approved()
    operator = user_build(username="op")
    written()

    customer, _ = customer_services.customer_upsert(
        external_id="C-1", name="Nora", email="nora@example.com", phone="0501234567"
    )
    assert written() == ["channels.customer.created"]

    customer_services.customer_upsert(external_id="C-1", name="Nora A.")
    assert written() == ["channels.customer.updated"]

    customer_services.preference_set(
        customer=customer,
        channel="letter",
        opted_in=False,
        source="contact_center",
        legal_basis="consent",
    )
    assert written() == ["channels.preference.set"]

    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data={
            "customer": {"name": "Nora"},
            "policy_number": "MT-000001",
            "amount": 10,
            "currency": "SAR",
            "due_date": "2026-12-01",
        },
        channels=["email", "sms"],
        requester_label="test",
    )
    assert written() == ["channels.dispatch.queued", "channels.dispatch.queued"]

    sms = communication.dispatches.get(channel="sms")
    services.dispatch_cancel(dispatch=sms, actor=operator, reason="duplicate request")
    assert written() == ["channels.dispatch.cancelled"]

    outbox.outbox_pump()
    assert written() == ["channels.dispatch.sent"]

    email = communication.dispatches.get(channel="email")
    services.dispatch_receipt_record(
        dispatch=email, event="bounced", hard=True, provider="test"
    )
    assert written() == ["channels.dispatch.bounced", "channels.address.suppressed"]

    failing = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=communication.data,
        channels=["sms"],
        requester_label="test",
    ).dispatches.get()
    written()
    settings.SMS_PROVIDER, settings.SMS_HTTP_URL = "http", ""
    Dispatch.objects.filter(pk=failing.pk).update(max_attempts=1)
    outbox.outbox_pump()
    assert written() == ["channels.dispatch.failed"]

    settings.SMS_PROVIDER = "file"
    services.dispatch_retry(dispatch=failing, actor=operator, reason="provider fixed")
    assert written() == ["channels.dispatch.retried"]

    lifecycle.escalation_resolve(
        escalation=Escalation.objects.get(dispatch=failing),
        actor=operator,
        reason="retried",
    )
    assert written() == ["channels.escalation.resolved"]

    outbox.dispatches_claim(now=timezone.now() + timedelta(minutes=1))
    outbox.dispatches_sweep(now=timezone.now() + timedelta(hours=1))
    assert written() == []  # a swept lease is retried, not a new fact for the trail
