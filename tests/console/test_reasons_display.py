"""An agent reads why a dispatch went or stopped in their language; the record stays."""

import re

import pytest
from django.template.loader import render_to_string
from django.utils import translation

from ccm.models import UserSettings
from channels_app.dispatching import communication_trigger
from console.evidence import evidence_bundle
from tests.console.conftest import email_choice_record, reminder_data

pytestmark = pytest.mark.django_db

OPTED_OUT = "customer opted out of email customer-wide"
OPTED_OUT_AR = (
    "ألغى العميل الاشتراك في التواصل عبر البريد الإلكتروني لجميع المنتجات والحسابات"
)


@pytest.fixture
def opted_out_dispatch(templates, customer):
    """A reminder the consent check stopped: the customer opted out of email."""
    email_choice_record(customer)
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    )
    return communication.dispatches.get()


def _decision(page: str) -> str:
    return re.search(r'<dd id="dispatch-decision">(.*?)</dd>', page).group(1)


def test_an_arabic_agent_reads_why_the_dispatch_stopped_in_arabic(
    client, agent, opted_out_dispatch
):
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)

    page = client.get(f"/agent/dispatches/{opted_out_dispatch.pk}/").content.decode()

    assert _decision(page) == OPTED_OUT_AR
    # The status history, the rule decisions (which name the ledger entry
    # that decided, at trigger time too) and the audit event's reason repeat
    # it, in Arabic too.
    assert page.count(OPTED_OUT_AR) == 4
    # The audit event's reason as recorded stays at hand, in its title.
    assert page.count(f'title="{OPTED_OUT}"') == 1
    opted_out_dispatch.refresh_from_db()
    assert opted_out_dispatch.decision == OPTED_OUT


def test_an_english_agent_reads_the_decision_as_stored(
    client, agent, opted_out_dispatch
):
    client.force_login(agent)

    page = client.get(f"/agent/dispatches/{opted_out_dispatch.pk}/").content.decode()

    assert _decision(page) == OPTED_OUT
    assert OPTED_OUT_AR not in page


def test_an_arabic_agent_reads_each_rule_decision_reason_in_arabic(
    client, agent, email_dispatch
):
    stored = [
        "frequency cap reached: 3 of 3 in 1 day; deferred to 2026-11-24 08:00 UTC",
        "held by operations for review",
    ]
    email_dispatch.rule_decisions = [
        {
            "rule": "Three a day",
            "version": 2,
            "outcome": "deferred",
            "reason": reason,
            "stage": "queue",
            "at": "2026-11-23T21:00:00+00:00",
        }
        for reason in stored
    ]
    email_dispatch.save(update_fields=["rule_decisions"])
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)

    page = client.get(f"/agent/dispatches/{email_dispatch.pk}/").content.decode()

    table = re.search(
        r'<table class="grid" id="rule-decisions">.*?</table>', page, re.S
    )
    assert (
        "<td>بلغ العميل حد التكرار: 3 من 3 خلال يوم واحد؛ أُجّل الإرسال إلى "
        "2026-11-24 08:00 بالتوقيت العالمي المنسّق</td>"
    ) in table.group()
    # A reason of no known shape is shown as stored.
    assert "<td>held by operations for review</td>" in table.group()


def test_the_evidence_pdf_gives_the_decision_in_the_agents_language_the_json_as_stored(
    agent, customer, opted_out_dispatch
):
    bundle = evidence_bundle(
        dispatches=[opted_out_dispatch], customer=customer, actor=agent, single=True
    )

    with translation.override("ar"):
        arabic = render_to_string("console/evidence_pdf.html", {"bundle": bundle})
    with translation.override("en"):
        english = render_to_string("console/evidence_pdf.html", {"bundle": bundle})

    assert bundle["dispatches"][0]["decision"] == OPTED_OUT
    assert f"<td>{OPTED_OUT_AR}</td>" in arabic
    assert f"<td>{OPTED_OUT}</td>" in english


def test_an_arabic_agent_reads_a_resend_in_the_timeline_with_the_reason_as_typed(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)
    client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer deleted the email", "resend-once": "form-1"},
    )
    stored = f"resend of #{email_dispatch.pk} by {agent.get_username()}: "
    stored += "customer deleted the email"
    assert email_dispatch.resends.get().decision == stored

    UserSettings.objects.create(user=agent, language="ar")
    timeline = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    assert (
        f'title="إعادة إرسال للرسالة رقم {email_dispatch.pk} بواسطة '
        f'{agent.get_username()}: customer deleted the email"'
    ) in timeline


def test_a_reason_naming_a_category_shows_its_name_in_the_readers_language(db):
    from customers.reasons import NO_OPT_IN, reason_display
    from templates_app.models import Category

    Category.objects.create(
        code="offers", name="Offers", name_ar="العروض", kind="marketing"
    )
    stored = NO_OPT_IN.text(category="offers")

    with translation.override("ar"):
        shown = reason_display(stored)
    with translation.override("en"):
        english = reason_display(stored)

    assert "العروض" in shown and "offers" not in shown
    # English readers read the record exactly as stored.
    assert english == "no opt-in recorded for offers"
