"""The evidence pack names who approved the logic: template and rule versions."""

import json

import pytest

from rules import services
from tests.console.conftest import pdf_text
from tests.factories import rule_build, rule_change_build
from tests.rules.conftest import at, trigger

pytestmark = pytest.mark.django_db

QUIET = {
    "name": "SMS quiet hours",
    "kind": "quiet_hours",
    "channel": "sms",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
}


def _night_sms(customer):
    return trigger(customer, scheduled_for=at("2027-06-01 23:00")).dispatches.get()


def test_the_evidence_pack_names_the_approvers_of_each_rule_version_that_decided(
    client, agent, customer, templates
):
    first = rule_build(**QUIET)
    second = rule_change_build(first, quiet_end="09:00", reason="later mornings")
    dispatch = _night_sms(customer)
    # A change proposed since is no part of what decided this dispatch.
    services.rule_propose(
        actor=second.proposed_by, rule=second.rule, quiet_start="20:00"
    )
    client.force_login(agent)
    url = f"/agent/dispatches/{dispatch.pk}/evidence"

    bundle = json.loads(client.get(url).content)
    pdf = pdf_text(client.get(url, {"format": "pdf"}).content)

    [entry] = bundle["dispatches"]
    assert [a["reviewer"] for a in entry["template"]["approvals"]] == ["demo-reviewer"]
    [rule] = entry["rule_approvals"]
    assert (rule["rule"], rule["version"], rule["status"]) == (
        "SMS quiet hours",
        2,
        "approved",
    )
    assert (rule["proposed_by"], rule["approved_by"], rule["reason"]) == (
        "rules-proposer",
        "rules-approver",
        "later mornings",
    )
    assert rule["approved_at"]
    flat = " ".join(pdf.split())
    logic = flat[flat.index("Who approved the logic") : flat.index("Audit events")]
    assert "Template version payment-" in logic
    assert "approved by demo-reviewer" in logic
    assert (
        "Rule SMS quiet hours v2 approved by rules-approver, proposed by "
        "rules-proposer" in logic
    )


def test_a_dispatch_no_rule_decided_says_so(client, agent, customer, templates):
    dispatch = trigger(customer).dispatches.get()
    client.force_login(agent)
    url = f"/agent/dispatches/{dispatch.pk}/evidence"

    bundle = json.loads(client.get(url).content)
    pdf = " ".join(pdf_text(client.get(url, {"format": "pdf"}).content).split())

    assert bundle["dispatches"][0]["rule_approvals"] == []
    assert "No rule decided this dispatch." in pdf


def test_the_evidence_pack_names_who_approved_the_category_kind_in_force(
    client, agent, customer, templates
):
    from ccm.roles import OPERATOR, REVIEWER
    from templates_app.categories import (
        category_change_approve,
        category_change_propose,
    )
    from templates_app.models import Category
    from tests.factories import user_build

    collections = Category.objects.get(code="collections")
    change = category_change_propose(
        category=collections,
        actor=user_build(username="kind-proposer", role=OPERATOR),
        kind="marketing",
        reason="campaign reminders",
    )
    category_change_approve(
        change=change, actor=user_build(username="kind-approver", role=REVIEWER)
    )
    dispatch = _night_sms(customer)
    client.force_login(agent)
    url = f"/agent/dispatches/{dispatch.pk}/evidence"

    [entry] = json.loads(client.get(url).content)["dispatches"]
    pdf = " ".join(pdf_text(client.get(url, {"format": "pdf"}).content).split())

    approval = entry["category_approval"]
    assert (approval["category"], approval["kind"]) == ("collections", "marketing")
    assert approval["approved_by"] == "kind-approver"
    assert approval["proposed_by"] == "kind-proposer"
    assert "approved by kind-approver, proposed by kind-proposer" in pdf
