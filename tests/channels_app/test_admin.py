"""Operators work dispatches from the admin: send, retry and cancel with a reason."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from ccm.roles import AGENT, OPERATOR
from channels_app.models import Communication, Dispatch
from channels_app.services import customer_upsert
from tests.factories import (
    approved_version_build,
    demo_templates_approved,
    dispatch_build,
    user_build,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = user_build(username="op")
    user.groups.add(Group.objects.get(name=OPERATOR))
    client.force_login(user)
    return user


@pytest.fixture
def customer():
    customer, _ = customer_upsert(
        external_id="C-9", name="Reem", email="reem@example.com", phone="0501234567"
    )
    return customer


def test_an_operator_sends_one_communication_to_a_customer(client, operator, customer):
    demo_templates_approved()
    url = f"/admin/channels_app/customer/{customer.pk}/send/"

    response = client.post(
        url,
        {
            "template": "one-time-passcode",
            "data": '{"code": "123456", "expires_minutes": 5}',
            "reason": "customer asked on the phone",
        },
    )

    assert response.status_code == 302
    communication = Communication.objects.get()
    assert communication.requested_by == operator
    assert communication.reason == "customer asked on the phone"
    assert communication.dispatches.get().channel == "sms"


def test_a_refused_send_shows_the_problem_on_the_form(client, operator, customer):
    demo_templates_approved()

    response = client.post(
        f"/admin/channels_app/customer/{customer.pk}/send/",
        {"template": "one-time-passcode", "data": '{"code": "12"}', "reason": "x"},
    )

    assert response.status_code == 200
    assert "expires_minutes" in response.content.decode()
    assert not Communication.objects.exists()


def test_an_agent_cannot_send_from_the_admin(client, customer):
    agent = user_build(username="ag")
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)

    response = client.get(f"/admin/channels_app/customer/{customer.pk}/send/")

    assert response.status_code == 403


def test_retry_asks_for_a_reason_then_requeues_and_audits(client, operator, customer):
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status="failed")
    changelist = "/admin/channels_app/dispatch/"

    ask = client.post(
        changelist, {"action": "retry", "_selected_action": [dispatch.pk]}
    )
    assert ask.status_code == 200
    assert "Reason" in ask.content.decode()

    done = client.post(
        changelist,
        {"action": "retry", "_selected_action": [dispatch.pk], "reason": "SMTP fixed"},
    )

    assert done.status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.status == "queued"
    event = AuditEvent.objects.get(action="channels.dispatch.retried")
    assert event.reason == "SMTP fixed" and event.actor == operator


def test_cancelling_a_sent_dispatch_is_refused_with_the_reason(
    client, operator, customer
):
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status="sent")

    response = client.post(
        "/admin/channels_app/dispatch/",
        {"action": "cancel", "_selected_action": [dispatch.pk], "reason": "oops"},
        follow=True,
    )

    assert "is sent; it cannot become cancelled" in response.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.status == "sent"
