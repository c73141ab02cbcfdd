"""Signed delivery receipts update dispatches; a hard bounce suppresses the address."""

import json
import time
import uuid

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from channels_app.models import Dispatch
from channels_app.webhooks import receipt_signature
from customers.consent import consent_decide
from customers.models import Suppression
from customers.services import customer_upsert
from templates_app.selectors import version_in_force
from tests.factories import dispatch_build

pytestmark = pytest.mark.django_db
SECRET = "receipt-secret-for-tests"


@pytest.fixture
def sent(settings, demo_templates):
    settings.RECEIPT_WEBHOOK_SECRET = SECRET
    customer, _ = customer_upsert(
        external_id="C-1", name="Sara", email="sara@example.com"
    )
    version = version_in_force(demo_templates["payment-reminder"])
    dispatch = dispatch_build(version=version, customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status=Dispatch.Status.SENT)
    return dispatch


def _post(
    payload: dict,
    *,
    secret: str = SECRET,
    channel: str = "email",
    timestamp: int | None = None,
):
    """Post a receipt as a provider would: a fresh id, signed with the time."""
    body = json.dumps({"id": uuid.uuid4().hex, **payload}).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    return APIClient().generic(
        "POST",
        f"/api/v1/receipts/{channel}",
        body,
        content_type="application/json",
        HTTP_X_CCM_TIMESTAMP=str(timestamp),
        HTTP_X_CCM_SIGNATURE=receipt_signature(body, secret, timestamp=timestamp),
    )


def test_a_delivered_receipt_marks_the_dispatch_delivered(sent):
    response = _post({"reference": sent.pk, "event": "delivered"})

    assert response.status_code == 204
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.DELIVERED
    assert AuditEvent.objects.filter(action="channels.dispatch.delivered").count() == 1
    # Providers redeliver webhooks: the same receipt again changes nothing.
    assert _post({"reference": sent.pk, "event": "delivered"}).status_code == 204
    assert AuditEvent.objects.filter(action="channels.dispatch.delivered").count() == 1


def test_a_hard_bounce_suppresses_the_address_for_every_later_send(sent):
    response = _post(
        {"reference": sent.pk, "event": "bounced", "hard": True, "detail": "5.1.1"}
    )

    assert response.status_code == 204
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.BOUNCED
    assert Suppression.objects.filter(
        channel="email", address="sara@example.com", reason="hard_bounce"
    ).exists()
    decision = consent_decide(
        customer=sent.communication.customer,
        channel="email",
        category="regulatory",
        mandatory=True,
    )
    assert not decision.allowed


def test_a_wrongly_signed_receipt_is_refused_and_changes_nothing(sent):
    response = _post({"reference": sent.pk, "event": "bounced"}, secret="guess")

    assert response.status_code == 401
    [refused] = response.json()["X-CCM-Signature"]
    assert refused["code"] == "channels.webhook.signature_wrong"
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.SENT


def test_a_receipt_for_an_unknown_dispatch_is_404_naming_it(sent):
    response = _post({"reference": 999999, "event": "delivered"})

    assert response.status_code == 404
    assert "no email dispatch #999999" in response.json()["reference"][0]


def test_a_receipt_that_cannot_apply_is_409(sent):
    Dispatch.objects.filter(pk=sent.pk).update(status=Dispatch.Status.QUEUED)

    response = _post({"reference": sent.pk, "event": "delivered"})

    assert response.status_code == 409
    refused = response.json()["event"][0]
    assert refused["code"] == "channels.dispatch.move_refused"
    assert "is Queued" in refused["message"]


def test_a_receipt_signed_longer_ago_than_the_window_is_refused(sent, settings):
    settings.RECEIPT_WEBHOOK_TOLERANCE = 300
    stale = int(time.time()) - 301

    response = _post({"reference": sent.pk, "event": "bounced"}, timestamp=stale)

    assert response.status_code == 401
    [refused] = response.json()["X-CCM-Timestamp"]
    assert refused["code"] == "channels.webhook.timestamp_stale"
    assert refused["params"]["window"] == 300
    assert "300-second window" in refused["message"]
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.SENT


def test_a_receipt_dated_in_the_future_beyond_the_clock_skew_is_refused(sent, settings):
    settings.RECEIPT_WEBHOOK_CLOCK_SKEW = 60
    ahead = int(time.time()) + 120

    response = _post({"reference": sent.pk, "event": "delivered"}, timestamp=ahead)

    assert response.status_code == 401
    [refused] = response.json()["X-CCM-Timestamp"]
    assert refused["code"] == "channels.webhook.timestamp_ahead"
    assert refused["params"]["skew"] == 60
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.SENT


def test_the_timestamp_is_covered_by_the_signature(sent):
    """A captured receipt cannot be made fresh by changing its timestamp header."""
    body = json.dumps(
        {"id": "r-1", "reference": sent.pk, "event": "bounced", "hard": True}
    ).encode()
    old = int(time.time()) - 3600
    response = APIClient().generic(
        "POST",
        "/api/v1/receipts/email",
        body,
        content_type="application/json",
        HTTP_X_CCM_TIMESTAMP=str(int(time.time())),
        HTTP_X_CCM_SIGNATURE=receipt_signature(body, SECRET, timestamp=old),
    )

    assert response.status_code == 401
    sent.refresh_from_db()
    assert sent.status == Dispatch.Status.SENT


def test_a_receipt_without_a_timestamp_is_refused(sent):
    body = json.dumps({"id": "r-2", "reference": sent.pk, "event": "delivered"})
    response = APIClient().generic(
        "POST",
        "/api/v1/receipts/email",
        body.encode(),
        content_type="application/json",
        HTTP_X_CCM_SIGNATURE="sha256=" + "0" * 64,
    )

    assert response.status_code == 401
    [refused] = response.json()["X-CCM-Timestamp"]
    assert refused["code"] == "channels.webhook.timestamp_invalid"


def test_a_replayed_receipt_id_is_refused_even_within_the_window(sent):
    body = json.dumps({"id": "r-3", "reference": sent.pk, "event": "delivered"})
    now = int(time.time())

    def post():
        return APIClient().generic(
            "POST",
            "/api/v1/receipts/email",
            body.encode(),
            content_type="application/json",
            HTTP_X_CCM_TIMESTAMP=str(now),
            HTTP_X_CCM_SIGNATURE=receipt_signature(
                body.encode(), SECRET, timestamp=now
            ),
        )

    assert post().status_code == 204
    replay = post()

    assert replay.status_code == 409
    [refused] = replay.json()["id"]
    assert refused["code"] == "channels.webhook.replayed"
    assert "r-3" in refused["message"]
    assert AuditEvent.objects.filter(action="channels.dispatch.delivered").count() == 1


def test_a_refused_receipt_does_not_use_up_its_id(sent):
    """A receipt for a dispatch not yet sent may come again once it is."""
    Dispatch.objects.filter(pk=sent.pk).update(status=Dispatch.Status.QUEUED)
    payload = {"id": "r-4", "reference": sent.pk, "event": "delivered"}
    assert _post(payload).status_code == 409
    Dispatch.objects.filter(pk=sent.pk).update(status=Dispatch.Status.SENT)

    assert _post(payload).status_code == 204
