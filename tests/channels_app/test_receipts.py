"""Signed delivery receipts update dispatches; a hard bounce suppresses the address."""

import json

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from channels_app.api import receipt_signature
from channels_app.models import Dispatch
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


def _post(payload: dict, *, secret: str = SECRET, channel: str = "email"):
    body = json.dumps(payload).encode()
    return APIClient().generic(
        "POST",
        f"/api/v1/receipts/{channel}",
        body,
        content_type="application/json",
        HTTP_X_CCM_SIGNATURE=receipt_signature(body, secret),
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

    assert response.status_code == 403
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
    assert "is queued" in response.json()["event"][0]
