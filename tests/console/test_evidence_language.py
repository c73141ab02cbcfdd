"""The evidence pack and the preference ledger read in the agent's language.

Codes stay in the JSON bundle; the PDF and the page show what they mean.
"""

import json

import pytest
from django.conf import settings

from ccm.models import UserSettings
from ccm.roles import OPERATOR, REVIEWER
from customers.services import preference_set
from templates_app.categories import category_change_approve, category_change_propose
from templates_app.models import Category
from tests.console.conftest import pdf_text
from tests.console.test_evidence_rules import _night_sms
from tests.factories import user_build

pytestmark = pytest.mark.django_db


def _arabic_names(dispatch) -> None:
    template = dispatch.communication.template_version.template
    template.name_ar = "تذكير بالدفع"
    template.save(update_fields=["name_ar"])
    Category.objects.filter(code="collections").update(name_ar="التحصيل")


def test_an_arabic_agents_evidence_pdf_names_actions_templates_and_categories(
    client, agent, customer, templates
):
    change = category_change_propose(
        category=Category.objects.get(code="collections"),
        actor=user_build(username="kind-proposer", role=OPERATOR),
        kind="marketing",
        reason="campaign reminders",
    )
    category_change_approve(
        change=change, actor=user_build(username="kind-approver", role=REVIEWER)
    )
    dispatch = _night_sms(customer)
    _arabic_names(dispatch)
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)
    url = f"/agent/dispatches/{dispatch.pk}/evidence"

    bundle = json.loads(client.get(url).content)
    raw = client.get(url, {"format": "pdf"}).content
    (settings.VAR_DIR / "evidence-ar.pdf").write_bytes(raw)  # to look at
    pdf = " ".join(pdf_text(raw).split())

    # The bundle keeps the codes a machine reads.
    assert bundle["dispatches"][0]["category_approval"]["category"] == "collections"
    actions = {e["action"] for e in bundle["audit_events"]}
    assert "channels.dispatch.suppressed" in actions
    # The PDF says what they mean, in Arabic, with the code beside the action.
    assert "تذكير بالدفع" in pdf
    assert "التحصيل" in pdf
    # pdftotext may split an Arabic word where the glyphs are kerned.
    assert "التحصيل:تسويقي" in pdf.replace(" ", "")
    # (pdftotext splits a letter from its vowel mark: the words after it.)
    assert "إرسالية بسبب تفضيل أو قاعدة" in pdf
    assert "no opt-in recorded" not in pdf
    assert "channels.dispatch.suppressed" in pdf


def test_the_preference_ledger_names_the_category_in_the_agents_language(
    client, agent, customer, templates
):
    Category.objects.filter(code="collections").update(name_ar="التحصيل")
    preference_set(
        customer=customer,
        channel="sms",
        category="collections",
        opted_in=False,
        source="contact_center",
        legal_basis="consent",
        actor=agent,
        note="asked on the phone",
    )
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)

    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    ledger = page.split('id="preference-ledger"')[1].split("</table>")[0]

    assert "<bdi>التحصيل</bdi>" in ledger
    assert ">collections<" not in ledger
