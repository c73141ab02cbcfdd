"""A customer's SMS reply: STOP (English or Arabic) stops SMS marketing."""

import json
import time

import pytest

from channels_app.dispatching import communication_trigger
from channels_app.inbound import is_stop
from channels_app.models import Communication, InboundMessage
from channels_app.webhooks import receipt_signature
from customers.models import PreferenceEntry
from tests.preferences.conftest import opt_in

pytestmark = pytest.mark.django_db

SECRET = "webhook-secret"


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.RECEIPT_WEBHOOK_SECRET = SECRET


@pytest.fixture
def confirmation(demo_templates):
    """The demo's STOP confirmation, approved as `make run` seeds it."""
    from django.contrib.auth import get_user_model

    from templates_app.demo_notices import demo_notices_seed

    users = get_user_model().objects
    template, _link = demo_notices_seed(
        author=users.get(username="demo-author"),
        reviewer=users.get(username="demo-reviewer"),
    )
    return template


def _post(client, body: dict, *, secret: str = SECRET, stamp: int | None = None):
    raw = json.dumps(body, ensure_ascii=False).encode()
    stamp = str(int(time.time()) if stamp is None else stamp)
    return client.post(
        "/api/v1/inbound/sms",
        data=raw,
        content_type="application/json",
        HTTP_X_CCM_TIMESTAMP=stamp,
        HTTP_X_CCM_SIGNATURE=receipt_signature(raw, secret, timestamp=stamp),
    )


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        "  Stop \n",
        "S T O P",
        "Stop.",
        "إيقاف",
        " ايقاف ",
        "إِيقَاف",
        "الغاء",
    ],
)
def test_stop_in_english_and_arabic_is_recognised(text):
    assert is_stop(text)


@pytest.mark.parametrize(
    "text", ["stop sending me bills?", "When is my payment due?", "", "متى موعد الدفع؟"]
)
def test_other_text_is_not_a_stop(text):
    assert not is_stop(text)


@pytest.mark.parametrize("text", ["STOP", "stop", " Stop ", "إيقاف", "  ايقاف  "])
def test_a_stop_reply_stops_sms_marketing_and_is_confirmed(
    client, offers, confirmation, customer, text
):
    opt_in(customer, "offers")

    response = _post(client, {"id": "in-1", "sender": "+966501234567", "text": text})

    assert response.status_code == 204
    entry = PreferenceEntry.objects.get(source=PreferenceEntry.Source.SMS_REPLY)
    assert (entry.channel, entry.category, entry.opted_in) == ("sms", "offers", False)
    message = InboundMessage.objects.get()
    assert message.kind == "stop"
    assert list(message.customers.all()) == [customer]
    offer = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["email", "sms"],
        requester_label="campaigns",
    )
    statuses = {d.channel: d.status for d in offer.dispatches.all()}
    assert statuses == {"email": "queued", "sms": "suppressed"}
    # The answer: the mandatory confirmation, in the customer's language.
    answer = Communication.objects.get(template_code="sms-stop-confirmation")
    sms = answer.dispatches.get()
    assert (sms.channel, sms.status, answer.mandatory) == ("sms", "queued", True)
    assert "الخليج للتأمين" in sms.body_text


def test_other_text_waits_for_the_contact_center_and_changes_nothing(
    client, offers, customer
):
    response = _post(
        client,
        {"id": "in-2", "sender": "0501234567", "text": "When is my payment due?"},
    )

    assert response.status_code == 204
    message = InboundMessage.objects.get()
    assert (message.kind, message.text) == ("message", "When is my payment due?")
    assert list(message.customers.all()) == [customer]
    assert not PreferenceEntry.objects.exists()


def test_a_replayed_or_forged_message_is_refused(client, offers, customer):
    body = {"id": "in-3", "sender": "+966501234567", "text": "STOP"}
    assert _post(client, body).status_code == 204
    assert _post(client, body).status_code == 409
    forged = _post(client, {**body, "id": "in-4"}, secret="wrong")
    assert forged.status_code == 401
    assert forged.json()["X-CCM-Signature"][0]["code"] == (
        "channels.webhook.signature_wrong"
    )
    assert InboundMessage.objects.count() == 1


def test_an_old_or_future_dated_message_is_refused(client, offers, customer):
    body = {"id": "in-5", "sender": "+966501234567", "text": "STOP"}
    stale = _post(client, body, stamp=int(time.time()) - 301)
    ahead = _post(client, body, stamp=int(time.time()) + 120)

    assert stale.status_code == ahead.status_code == 401
    assert stale.json()["X-CCM-Timestamp"][0]["code"] == (
        "channels.webhook.timestamp_stale"
    )
    assert ahead.json()["X-CCM-Timestamp"][0]["code"] == (
        "channels.webhook.timestamp_ahead"
    )
    assert not InboundMessage.objects.exists()
    assert not PreferenceEntry.objects.exists()


def test_a_stop_from_an_unknown_number_is_kept(client, offers, customer):
    assert (
        _post(
            client, {"id": "in-5", "sender": "+966551112222", "text": "stop"}
        ).status_code
        == 204
    )
    message = InboundMessage.objects.get()
    assert message.kind == "stop" and not message.customers.exists()
    assert not PreferenceEntry.objects.exists()


def test_the_agent_sees_the_customers_reply_on_their_page(client, offers, customer):
    from ccm.roles import AGENT
    from tests.factories import user_build

    _post(client, {"id": "in-6", "sender": "0501234567", "text": "Please call me"})
    agent = user_build(username="aisha", role=AGENT)
    client.force_login(agent)

    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    assert 'id="inbound-messages"' in page
    assert "Please call me" in page
