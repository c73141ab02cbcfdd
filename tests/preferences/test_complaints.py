"""Spam complaints from mailbox providers: marketing stops, the rate counts them."""

import json
import time

import pytest

from channels_app import outbox
from channels_app.complaints import complaint_rates
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from channels_app.webhooks import receipt_signature
from customers.models import PreferenceEntry
from tests.console.conftest import reminder_data
from tests.preferences.conftest import opt_in

pytestmark = pytest.mark.django_db

SECRET = "receipt-secret"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.RECEIPT_WEBHOOK_SECRET = SECRET
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def _post(client, body: dict):
    raw = json.dumps(body).encode()
    stamp = str(int(time.time()))
    return client.post(
        "/api/v1/receipts/email",
        data=raw,
        content_type="application/json",
        HTTP_X_CCM_TIMESTAMP=stamp,
        HTTP_X_CCM_SIGNATURE=receipt_signature(raw, SECRET, timestamp=stamp),
    )


def _sent_offer(customer) -> Dispatch:
    dispatch = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["email"],
        requester_label="campaigns",
    ).dispatches.get()
    outbox.dispatches_claim(limit=100)
    outbox.dispatches_send(ids=[dispatch.pk])
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.SENT
    return dispatch


def test_a_complaint_stops_marketing_but_not_service_and_counts_on_the_template(
    client, offers, customer
):
    opt_in(customer, "offers")
    dispatch = _sent_offer(customer)
    _sent_offer(customer)

    response = _post(
        client, {"id": "c-1", "reference": dispatch.pk, "event": "complaint"}
    )

    assert response.status_code == 204
    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.COMPLAINED
    entry = PreferenceEntry.objects.get(source=PreferenceEntry.Source.COMPLAINT)
    assert (entry.channel, entry.category, entry.opted_in) == ("email", "offers", False)
    assert entry.source_message == str(dispatch.communication.public_id)
    [rate] = complaint_rates(template_codes=["card-offer"])
    assert (rate.reached, rate.complaints, rate.rate) == (2, 1, 0.5)

    offer = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["email"],
        requester_label="campaigns",
    ).dispatches.get()
    assert offer.status == Dispatch.Status.SUPPRESSED
    assert offer.rule_decisions[-1]["ledger_entry"] == entry.pk
    reminder = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    ).dispatches.get()
    assert reminder.status == Dispatch.Status.QUEUED

    # The provider redelivers the same complaint under a new id: nothing more.
    assert (
        _post(
            client, {"id": "c-2", "reference": dispatch.pk, "event": "complaint"}
        ).status_code
        == 204
    )
    assert PreferenceEntry.objects.filter(source="complaint").count() == 1


def test_the_operators_see_complaint_rates_by_template(
    admin_client, offers, customer, client
):
    opt_in(customer, "offers")
    dispatch = _sent_offer(customer)
    _post(client, {"id": "c-1", "reference": dispatch.pk, "event": "complaint"})

    page = admin_client.get("/admin/channels_app/dispatch/complaint-rates/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-template="card-offer"' in html
    assert "100%" in html
