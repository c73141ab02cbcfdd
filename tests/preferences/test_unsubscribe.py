"""One-click unsubscribe (RFC 8058) from a marketing email."""

import time
from unittest import mock

import pytest

from channels_app import outbox
from channels_app.dispatching import communication_trigger
from customers.links import link_token
from customers.models import PreferenceEntry
from tests.preferences.conftest import opt_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _links(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.UNSUBSCRIBE_MAILTO = "unsubscribe@example.com"


def _offer(customer, channels=("email",)):
    return communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=list(channels),
        requester_label="campaigns",
    )


def _delivered(smtp_sink, dispatch):
    outbox.dispatches_claim(limit=100)
    outbox.dispatches_send(ids=[dispatch.pk])
    [message] = smtp_sink.messages
    return message


def _one_click(client, url: str, **headers):
    # As a mailbox provider posts it: no cookies, no CSRF token, a bare form.
    return client.post(
        url.removeprefix("http://testserver"),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
        **headers,
    )


def test_a_marketing_email_carries_one_click_headers_that_opt_out_once(
    client, offers, customer, smtp_sink
):
    opt_in(customer, "offers")
    dispatch = _offer(customer).dispatches.get()
    message = _delivered(smtp_sink, dispatch)

    header = message["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = [part.strip(" <>") for part in header.split(",")]
    assert https.startswith("http://testserver/p/") and https.endswith("/unsubscribe")
    assert mailto.startswith("mailto:unsubscribe@example.com?subject=unsubscribe%20")
    assert https in dispatch.body_html, "the header repeats the footer's link"

    client.cookies.clear()
    response = _one_click(client, https, HTTP_USER_AGENT="GoogleOneClick/1.0")
    assert response.status_code == 200
    entry = PreferenceEntry.objects.get(source="customer")
    assert (entry.channel, entry.category, entry.opted_in) == ("email", "offers", False)
    assert entry.source_message == str(dispatch.communication.public_id)
    assert entry.user_agent == "GoogleOneClick/1.0"

    # A replay changes nothing.
    assert _one_click(client, https).status_code == 200
    assert PreferenceEntry.objects.filter(source="customer").count() == 1
    # And the next offer by email is not sent; SMS, still chosen, is.
    statuses = {
        d.channel: d.status for d in _offer(customer, ("email", "sms")).dispatches.all()
    }
    assert statuses == {"email": "suppressed", "sms": "queued"}


def test_a_get_only_asks_and_changes_nothing(client, offers, customer):
    opt_in(customer, "offers")
    dispatch = _offer(customer).dispatches.get()
    token = link_token(
        customer_id=customer.pk,
        message=dispatch.communication.public_id,
        channel="email",
    )

    response = client.get(f"/p/{token}/unsubscribe")

    assert response.status_code == 200
    assert 'id="unsubscribe"' in response.content.decode()
    assert not PreferenceEntry.objects.filter(source="customer").exists()


def test_a_forged_or_expired_link_gets_403_and_changes_nothing(
    client, offers, customer
):
    opt_in(customer, "offers")
    public_id = _offer(customer).public_id
    token = link_token(customer_id=customer.pk, message=public_id, channel="email")
    past = time.time() - 400 * 86400
    with mock.patch("django.core.signing.time.time", return_value=past):
        expired = link_token(
            customer_id=customer.pk, message=public_id, channel="email"
        )
    forged = token.replace(f"{customer.pk}.", f"{customer.pk + 1}.", 1)
    no_message = link_token(customer_id=customer.pk)

    for bad in (forged, expired, token[:-3] + "abc", "x", no_message):
        response = _one_click(client, f"/p/{bad}/unsubscribe")
        assert response.status_code == 403, bad
    assert PreferenceEntry.objects.filter(opted_in=False).count() == 0


def test_a_service_email_carries_no_unsubscribe_header(
    demo_templates, customer, smtp_sink
):
    from tests.console.conftest import reminder_data

    dispatch = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    ).dispatches.get()

    message = _delivered(smtp_sink, dispatch)

    assert message["List-Unsubscribe"] is None
    assert "http://testserver/p/" in message.get_body(("plain",)).get_content()
