"""The console sends nothing twice, bypasses no consent, leaks no address, and
records every look at a customer's communications."""

import html
import json

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch, Escalation
from channels_app.services import suppression_add
from console.models import Feedback
from rules.demo import rules_demo_seed
from tests.console.conftest import opted_out_of_email, reminder_data
from tests.factories import dispatch_build

pytestmark = pytest.mark.django_db


def _page(response) -> str:
    return html.unescape(response.content.decode())


# Nothing twice


def test_a_second_click_on_resend_is_refused_while_the_first_is_on_its_way(
    client, agent, email_dispatch
):
    client.force_login(agent)
    url = f"/agent/dispatches/{email_dispatch.pk}/resend"

    first = client.post(url, {"resend-reason": "customer deleted it"})
    second = client.post(url, {"resend-reason": "customer deleted it"})

    assert first.status_code == 302
    assert second.status_code == 400
    [resend] = Dispatch.objects.filter(resend_of=email_dispatch)
    assert f"already resent as #{resend.pk}" in _page(second)


def test_the_same_correction_sent_twice_is_reissued_once(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)
    url = f"/agent/dispatches/{email_dispatch.pk}/reissue"
    corrected = {
        "data": json.dumps(reminder_data(customer, amount=999.5)),
        "reason": "wrong amount",
    }

    assert client.post(url, corrected).status_code == 302
    second = client.post(url, corrected)

    assert second.status_code == 400
    [reissue] = email_dispatch.communication.reissues.all()
    assert f"already reissued as communication {reissue.public_id}" in _page(second)


def test_the_same_complaint_sent_twice_opens_one_escalation(
    client, agent, email_dispatch
):
    client.force_login(agent)
    complaint = {"kind": "complaint", "severity": "high", "text": "Wrong due date"}
    url = f"/agent/dispatches/{email_dispatch.pk}/feedback"

    client.post(url, complaint)
    second = client.post(url, complaint)

    assert second.status_code == 400
    assert Feedback.objects.count() == 1
    assert Escalation.objects.filter(dispatch=email_dispatch).count() == 1


# Consent and the rules


def test_a_resend_to_a_customer_who_opted_out_since_is_refused(
    client, agent, customer, email_dispatch
):
    opted_out_of_email(customer)
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer asked"},
    )

    assert response.status_code == 400
    assert "consent does not allow" in _page(response)
    assert not Dispatch.objects.filter(resend_of=email_dispatch).exists()


def test_a_correction_goes_out_although_the_original_went_today(
    client, agent, customer, templates
):
    """The demo's once-a-day de-duplication does not stop a correction."""
    rules_demo_seed()
    original, again = (
        communication_trigger(
            template_code="payment-reminder",
            customer=customer,
            data=reminder_data(customer),
            channels=["email"],
            requester_label="core-banking",
            correlation_key="MT-204518",
        ).dispatches.get()
        for _ in range(2)
    )
    assert again.status == Dispatch.Status.SUPPRESSED  # the rule is in force
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{original.pk}/reissue",
        {
            "data": json.dumps(reminder_data(customer, amount=999.5)),
            "reason": "wrong amount",
        },
        follow=True,
    )

    [reissue] = original.communication.reissues.all()
    dispatch = reissue.dispatches.get()
    assert dispatch.status == Dispatch.Status.QUEUED
    assert "deduplicated" not in {d["outcome"] for d in dispatch.rule_decisions}
    assert f"Reissued as communication {reissue.public_id}." in _page(response)


def test_a_reissue_stopped_by_consent_says_so_and_why(
    client, agent, customer, email_dispatch
):
    opted_out_of_email(customer)
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/reissue",
        {"data": json.dumps(reminder_data(customer, amount=999.5)), "reason": "x"},
        follow=True,
    )

    page = _page(response)
    [reissue] = email_dispatch.communication.reissues.all()
    assert reissue.dispatches.get().status == Dispatch.Status.SUPPRESSED
    assert "but nothing was queued: customer opted out of email" in page


# Addresses named in stored reasons


@pytest.fixture
def suppressed_dispatch(templates, customer):
    """A reminder stopped because the customer's email address bounced before."""
    suppression_add(channel="email", address=customer.email, reason="bounce")
    return communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    ).dispatches.get()


def test_an_address_a_reason_names_is_masked_until_unmasked(
    client, agent, customer, suppressed_dispatch
):
    assert customer.email in suppressed_dispatch.decision  # the record names it
    client.force_login(agent)

    dispatch_page = _page(client.get(f"/agent/dispatches/{suppressed_dispatch.pk}/"))
    timeline = _page(client.get(f"/agent/customers/{customer.pk}/"))

    for page in (dispatch_page, timeline):
        assert customer.email not in page
        assert "re•••@e•••.com is suppressed on email" in page

    # The customer's page lists the suppression behind it, masked too.
    assert "re•••@e•••.com" in timeline.split('id="suppressions"')[1]
    client.post(f"/agent/customers/{customer.pk}/unmask", {"reason": "verify"})
    dispatch_page = _page(client.get(f"/agent/dispatches/{suppressed_dispatch.pk}/"))
    assert f"{customer.email} is suppressed on email" in dispatch_page


def test_a_refusal_that_names_the_address_masks_it(
    client, agent, customer, email_dispatch
):
    suppression_add(channel="email", address=customer.email, reason="bounce")
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer asked"},
    )

    page = _page(response)
    assert response.status_code == 400
    assert "re•••@e•••.com is suppressed on email" in page
    assert customer.email not in page


# Every look at a customer's communications recorded


def test_opening_a_letter_or_the_data_to_correct_is_recorded(
    client, agent, letter_dispatch
):
    client.force_login(agent)

    client.get(f"/agent/dispatches/{letter_dispatch.pk}/letter.pdf")
    client.get(f"/agent/dispatches/{letter_dispatch.pk}/letter.pdf?download=1")
    client.get(f"/agent/dispatches/{letter_dispatch.pk}/reissue")

    viewed = AuditEvent.objects.filter(
        action="console.dispatch.viewed", object_id=str(letter_dispatch.pk)
    ).order_by("sequence")
    assert [event.after.get("part") for event in viewed] == [
        "letter",
        "letter download",
        "reissue form",
    ]
    assert {event.actor for event in viewed} == {agent}


# Evidence packs


def test_an_evidence_pack_needs_the_permission_to_unmask(
    client, masked_agent, customer, email_dispatch
):
    masked_agent.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="console", codename="export_evidence"
        )
    )
    client.force_login(masked_agent)

    for url in (
        f"/agent/dispatches/{email_dispatch.pk}/evidence",
        f"/agent/customers/{customer.pk}/evidence",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert customer.email not in response.content.decode()


def test_a_customer_pack_over_the_limit_is_refused_before_it_is_loaded(
    client, agent, customer, templates, monkeypatch, django_assert_max_num_queries
):
    from console import views
    from tests.factories import approved_version_build

    version = approved_version_build()
    for _ in range(6):
        dispatch_build(version=version, customer=customer)
    monkeypatch.setattr(views, "MAX_EVIDENCE_DISPATCHES", 3)
    client.force_login(agent)

    with django_assert_max_num_queries(12):
        response = client.get(f"/agent/customers/{customer.pk}/evidence")

    assert response.status_code == 400
    assert "More than 3 dispatches" in response.content.decode()
