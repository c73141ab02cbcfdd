"""The console sends nothing twice, bypasses no consent, leaks no address, and
records every look at a customer's communications."""

import html
import json

import pytest
from django.contrib.auth.models import Permission

from audit.models import AuditEvent
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch, Escalation
from console import services
from console.models import Feedback
from customers.services import suppression_add
from rules.demo import rules_demo_seed
from tests.console.conftest import email_choice_record, reminder_data, sent
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

    # Two forms: the page opened twice, or by two agents.
    first = client.post(url, {"resend-reason": "deleted it", "resend-once": "form-1"})
    second = client.post(url, {"resend-reason": "deleted it", "resend-once": "form-2"})

    assert first.status_code == 302
    assert second.status_code == 400
    [resend] = Dispatch.objects.filter(resend_of=email_dispatch)
    assert f"already resent as #{resend.pk}" in _page(second)


def test_the_same_resend_form_sent_again_resends_once_even_after_it_went_out(
    client, agent, email_dispatch
):
    client.force_login(agent)
    url = f"/agent/dispatches/{email_dispatch.pk}/resend"
    form = {"resend-reason": "deleted it", "resend-once": "form-1"}
    client.post(url, form)
    [resend] = Dispatch.objects.filter(resend_of=email_dispatch)
    sent(resend)  # the worker was quicker than the second click

    second = client.post(url, form)

    assert second.status_code == 400
    assert "the same form was sent twice" in _page(second)
    assert Dispatch.objects.filter(resend_of=email_dispatch).count() == 1


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
    email_choice_record(customer)
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer asked", "resend-once": "form-1"},
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
    email_choice_record(customer)
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
        {"resend-reason": "customer asked", "resend-once": "form-1"},
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
    from console import evidence_views
    from tests.factories import approved_version_build

    version = approved_version_build()
    for _ in range(6):
        dispatch_build(version=version, customer=customer)
    monkeypatch.setattr(evidence_views, "MAX_EVIDENCE_DISPATCHES", 3)
    client.force_login(agent)

    with django_assert_max_num_queries(12):
        response = client.get(f"/agent/customers/{customer.pk}/evidence")

    assert response.status_code == 400
    assert "More than 3 dispatches" in response.content.decode()


def test_a_customer_pack_reads_as_many_statements_for_eight_dispatches_as_for_two(
    client, agent, customer, templates
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.factories import approved_version_build

    version = approved_version_build()
    client.force_login(agent)
    url = f"/agent/customers/{customer.pk}/evidence"
    counts = []
    for total in (2, 2, 8):  # the first request fills the content-type cache
        while customer.communications.count() < total:
            dispatch_build(version=version, customer=customer)
        with CaptureQueriesContext(connection) as statements:
            assert client.get(url).status_code == 200
        counts.append(len(statements))

    assert counts[1] == counts[2], counts


def _at_once(action, threads: int = 2) -> list[str]:
    """Run an action in several threads released together; return each outcome."""
    import threading

    from django.db import connections

    start = threading.Barrier(threads)
    outcomes = []

    def run():
        try:
            start.wait()
            action()
            outcomes.append("done")
        except services.ConsoleActionRefused:
            outcomes.append("refused")
        finally:
            connections.close_all()

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sorted(outcomes)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_agents_resending_at_once_send_one_copy(agent, operator, email_dispatch):
    actors = iter([agent, operator])

    outcomes = _at_once(
        lambda: services.dispatch_resend(
            dispatch=email_dispatch, actor=next(actors), reason="customer asked"
        )
    )

    assert outcomes == ["done", "refused"]
    assert Dispatch.objects.filter(resend_of=email_dispatch).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_same_correction_sent_at_once_is_reissued_once(
    agent, customer, email_dispatch
):
    corrected = reminder_data(customer, amount=999.5)

    outcomes = _at_once(
        lambda: services.communication_reissue(
            communication=email_dispatch.communication,
            data=corrected,
            actor=agent,
            reason="wrong amount",
        )
    )

    assert outcomes == ["done", "refused"]
    assert email_dispatch.communication.reissues.count() == 1


def test_what_agents_typed_is_masked_too(client, agent, customer, email_dispatch):
    """A complaint or a preference note may quote the customer's address."""
    client.force_login(agent)
    client.post(
        f"/agent/dispatches/{email_dispatch.pk}/feedback",
        {"kind": "complaint", "severity": "low", "text": f"not {customer.email}"},
    )
    client.post(
        f"/agent/customers/{customer.pk}/preferences",
        {
            "channel": "sms",
            "opted_in": "out",
            "legal_basis": "consent",
            "reason": "stop texts to 050 123 4567",
        },
    )

    dispatch_page = _page(client.get(f"/agent/dispatches/{email_dispatch.pk}/"))
    customer_page = _page(client.get(f"/agent/customers/{customer.pk}/"))

    assert "not re•••@e•••.com" in dispatch_page
    assert customer.email not in dispatch_page
    assert "stop texts to +9665•••4567" in customer_page
    assert "050 123 4567" not in customer_page


def test_a_letter_and_its_data_need_the_permission_to_unmask(
    client, masked_agent, agent, customer, letter_dispatch
):
    client.force_login(masked_agent)

    page = _page(client.get(f"/agent/dispatches/{letter_dispatch.pk}/"))
    letter = client.get(f"/agent/dispatches/{letter_dispatch.pk}/letter.pdf")
    reissue = client.get(f"/agent/dispatches/{letter_dispatch.pk}/reissue")

    assert 'id="letter-withheld"' in page and 'id="letter-pdf"' not in page
    assert "12 King Fahd Road" not in page  # the data snapshot names it
    assert "12 •••" in page.split('id="data-payload"')[1]
    assert (letter.status_code, reissue.status_code) == (403, 403)
    client.force_login(agent)
    assert (
        client.get(f"/agent/dispatches/{letter_dispatch.pk}/letter.pdf").status_code
        == 200
    )


def test_a_correction_stopped_by_consent_can_be_sent_once_consent_is_given(
    client, agent, customer, email_dispatch
):
    email_choice_record(customer)
    client.force_login(agent)
    url = f"/agent/dispatches/{email_dispatch.pk}/reissue"
    corrected = {
        "data": json.dumps(reminder_data(customer, amount=999.5)),
        "reason": "wrong amount",
    }
    client.post(url, corrected)
    email_choice_record(customer, opted_in=True)

    assert client.post(url, corrected).status_code == 302

    statuses = [
        reissue.dispatches.get().status
        for reissue in email_dispatch.communication.reissues.order_by("pk")
    ]
    assert statuses == [Dispatch.Status.SUPPRESSED, Dispatch.Status.QUEUED]


def test_a_suppressed_postal_address_is_listed_on_the_customer_page(
    client, agent, customer
):
    suppression_add(channel="letter", address=customer.postal_address, reason="manual")
    client.force_login(agent)

    page = _page(client.get(f"/agent/customers/{customer.pk}/"))

    assert "12 •••" in page.split('id="suppressions"')[1]


@pytest.mark.parametrize(
    ("contact", "text", "masked"),
    [
        (("sms", "+966501234567"), "sent to 050 123 4567", "sent to +9665•••4567"),
        (("sms", "+966501234567"), "sent to 0501234567", "sent to +9665•••4567"),
        (("sms", "+966501234567"), "sent to 966501234567", "sent to +9665•••4567"),
        (
            ("email", "reem@example.com"),
            "REEM@Example.com bounced",
            "re•••@e•••.com bounced",
        ),
        # Case folding does not give the Turkish dotted İ back: still masked.
        (("letter", "Kadıköy Sok 5"), "returned: KADIKÖY SOK 5", "returned: •••"),
    ],
)
def test_a_contact_point_is_masked_however_a_text_writes_it(contact, text, masked):
    from console.masking import ContactMask

    assert ContactMask([contact])(text) == masked
