"""Operators propose rule changes in the admin, others approve them; the dry run."""

from datetime import time

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from audit.models import AuditEvent
from ccm.roles import AGENT, OPERATOR
from channels_app.models import Communication, Dispatch
from rules.demo import rules_demo_seed
from rules.models import Rule, RuleVersion
from rules.selectors import rules_in_force
from tests.factories import user_build
from tests.rules.conftest import at, cap, customer_build, sms_quiet_hours, trigger

pytestmark = pytest.mark.django_db

Status = RuleVersion.Status

ADD = {
    "name": "SMS quiet hours",
    "kind": "quiet_hours",
    "enabled": "on",
    "channel": "sms",
    "category_kind": "",
    "categories": "",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "exempt_mandatory": "on",
    "exempt_categories": "",
    "cap_count": "",
    "window_hours": "",
    "cap_mode": "",
    "reason": "complaints about night SMS",
}
CHANGE = {key: value for key, value in ADD.items() if key != "name"}


@pytest.fixture
def operator(client):
    user = user_build(username="omar", role=OPERATOR)
    client.force_login(user)
    return user


@pytest.fixture
def second_operator(db):
    return user_build(username="nadia", role=OPERATOR)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def _decide(client, version, verb: str, comment: str = ""):
    return client.post(
        reverse("admin:rules_ruleversion_decide", args=[version.pk, verb]),
        {"comment": comment},
    )


def test_a_new_rule_applies_only_once_another_operator_approves_it(
    client, operator, second_operator
):
    response = client.post(reverse("admin:rules_rule_add"), ADD)

    version = RuleVersion.objects.get()
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == reverse(
        "admin:rules_ruleversion_change", args=[version.pk]
    )
    assert (version.status, version.number, version.proposed_by) == (
        Status.PROPOSED,
        1,
        operator,
    )
    assert rules_in_force() == []
    proposed = AuditEvent.objects.get(action="rules.rule.proposed")
    assert (proposed.actor, proposed.before) == (operator, None)
    assert proposed.after["quiet_start"] == "21:00"
    assert proposed.reason == "complaints about night SMS"

    client.force_login(second_operator)
    response = _decide(client, version, "approve", "fits the policy")

    assert "SMS quiet hours v1 approved" in _messages(response)[-1]
    [in_force] = rules_in_force()
    assert (in_force.pk, in_force.decided_by, in_force.comment) == (
        version.pk,
        second_operator,
        "fits the policy",
    )
    approved = AuditEvent.objects.get(action="rules.rule.approved")
    assert approved.actor == second_operator
    assert (approved.before, approved.after["status"]) == (None, "approved")


def test_the_proposer_cannot_approve_their_own_change(client, operator):
    client.post(reverse("admin:rules_rule_add"), ADD)
    version = RuleVersion.objects.get()

    page = client.get(reverse("admin:rules_ruleversion_change", args=[version.pk]))
    response = _decide(client, version, "approve")

    text = page.content.decode()
    assert "Segregation of duties: you proposed this change" in text
    assert 'id="rule-approve"' in text and "disabled" in text
    assert _messages(response) == [
        "Segregation of duties: you proposed SMS quiet hours v1, so another "
        "operator must approve or reject it."
    ]
    version.refresh_from_db()
    assert version.status == Status.PROPOSED
    assert not AuditEvent.objects.filter(action="rules.rule.approved").exists()


def test_a_change_is_proposed_from_the_version_in_force_and_replaces_it_approved(
    client, operator, second_operator
):
    rule = sms_quiet_hours()
    url = reverse("admin:rules_rule_change", args=[rule.rule_id])
    form = client.get(url).context["adminform"].form
    assert form.initial["quiet_start"] == time(21)

    response = client.post(url, {**CHANGE, "quiet_start": "22:00", "_propose": "1"})

    assert response.status_code == 302, response.content.decode()[:3000]
    proposal = RuleVersion.objects.get(status=Status.PROPOSED)
    assert (proposal.number, proposal.change, proposal.quiet_start) == (
        2,
        "change",
        time(22),
    )
    assert [r.quiet_start for r in rules_in_force()] == [time(21)]
    page = client.get(
        reverse("admin:rules_ruleversion_change", args=[proposal.pk])
    ).content.decode()
    assert '<tr class="changed"><th>Quiet from</th>' in page

    client.force_login(second_operator)
    _decide(client, proposal, "approve")

    assert [(r.number, r.quiet_start) for r in rules_in_force()] == [(2, time(22))]
    rule.refresh_from_db()
    assert rule.status == Status.SUPERSEDED
    event = AuditEvent.objects.get(action="rules.rule.approved", actor=second_operator)
    assert (event.before["quiet_start"], event.after["quiet_start"]) == (
        "21:00",
        "22:00",
    )
    assert (event.before["version"], event.after["version"]) == (1, 2)


def test_a_rejection_needs_a_comment_and_leaves_the_rule_in_force(
    client, operator, second_operator
):
    rule = sms_quiet_hours()
    url = reverse("admin:rules_rule_change", args=[rule.rule_id])
    client.post(url, {**CHANGE, "enabled": "", "_propose": "1"})
    proposal = RuleVersion.objects.get(status=Status.PROPOSED)
    client.force_login(second_operator)

    refused = _decide(client, proposal, "reject")
    response = _decide(client, proposal, "reject", "not during the campaign")

    assert "Say why the change is rejected" in _messages(refused)[-1]
    assert "SMS quiet hours v2 rejected" in _messages(response)[-1]
    proposal.refresh_from_db()
    assert (proposal.status, proposal.comment) == (
        Status.REJECTED,
        "not during the campaign",
    )
    assert [(r.number, r.enabled) for r in rules_in_force()] == [(1, True)]
    event = AuditEvent.objects.get(action="rules.rule.rejected")
    assert (event.before["enabled"], event.after["enabled"]) == (True, False)
    assert event.reason == "not during the campaign"


def test_one_change_at_a_time_awaits_approval(client, operator):
    rule = sms_quiet_hours()
    url = reverse("admin:rules_rule_change", args=[rule.rule_id])
    client.post(url, {**CHANGE, "quiet_start": "22:00", "_propose": "1"})

    page = client.get(url).content.decode()

    assert "awaits another operator's approval" in page
    assert 'id="rule-proposal-form"' not in page


def test_an_incomplete_rule_is_refused_naming_the_field(client, operator):
    response = client.post(
        reverse("admin:rules_rule_add"),
        {**ADD, "kind": "frequency_cap", "quiet_start": "", "quiet_end": ""},
    )

    assert response.status_code == 200
    assert "A frequency cap needs a count of at least 1." in response.content.decode()
    assert "Give the window in hours" in response.content.decode()
    assert not Rule.objects.exists()


def test_unknown_category_codes_are_refused(client, operator, templates):
    response = client.post(
        reverse("admin:rules_rule_add"), {**ADD, "exempt_categories": "securty"}
    )

    assert "Unknown category code(s): securty." in response.content.decode()


def test_a_rule_name_is_taken_once(client, operator):
    sms_quiet_hours()

    response = client.post(reverse("admin:rules_rule_add"), ADD)

    assert "A rule named SMS quiet hours exists already." in response.content.decode()


def test_a_rule_is_retired_through_review_never_deleted(
    client, operator, second_operator
):
    rule = sms_quiet_hours()
    url = reverse("admin:rules_rule_change", args=[rule.rule_id])

    assert client.get(
        reverse("admin:rules_rule_delete", args=[rule.rule_id])
    ).status_code in (302, 403)
    client.post(url, {"reason": "replaced by the new policy", "_retire": "1"})
    retirement = RuleVersion.objects.get(status=Status.PROPOSED)
    assert (retirement.change, len(rules_in_force())) == ("retire", 1)
    client.force_login(second_operator)
    _decide(client, retirement, "approve")

    assert rules_in_force() == []
    assert Rule.objects.filter(pk=rule.rule_id).exists()
    page = client.get(reverse("admin:rules_rule_changelist")).content.decode()
    assert "retired" in page


def test_an_agent_cannot_manage_rules(client):
    client.force_login(user_build(username="aisha", role=AGENT))

    assert client.get(reverse("admin:rules_rule_changelist")).status_code == 403
    assert client.get(reverse("admin:rules_rule_dry_run")).status_code == 403
    assert client.get(reverse("admin:rules_ruleversion_changelist")).status_code == 403


def test_the_rule_list_links_to_the_dry_run(client, operator):
    rules_demo_seed()

    page = client.get(reverse("admin:rules_rule_changelist")).content.decode()

    assert reverse("admin:rules_rule_dry_run") in page
    assert "Marketing: at most 3 a week" in page


def test_the_dry_run_explains_each_rule_and_writes_nothing(client, operator, templates):
    sms_quiet_hours()
    cap(1, 24)
    customer = customer_build("C-dry", time_zone="Pacific/Kiritimati")
    # One collections message two hours before.
    trigger(customer, channels=["email"], scheduled_for=at("2027-06-01 10:00"))
    counts = (
        Communication.objects.count(),
        Dispatch.objects.count(),
        AuditEvent.objects.count(),
    )

    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {
            "customer": "C-dry",
            "template": "payment-reminder",
            "at": "2027-06-01 12:00",  # 02:00 the next day in Kiritimati
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "SMS quiet hours" in page
    assert "within quiet hours" in page and "Pacific/Kiritimati" in page
    assert "frequency cap reached" in page
    explanation = response.context["explanation"]
    email, sms = explanation.channels
    assert email.verdict.status == sms.verdict.status == "suppressed"
    assert [e["outcome"] for e in sms.verdict.trace][:1] == ["deferred"]
    assert counts == (
        Communication.objects.count(),
        Dispatch.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_dry_run_lists_what_a_superseding_message_would_cancel(
    client, operator, templates
):
    customer = customer_build("C-seq")
    reminder = trigger(customer, correlation_key="ACC-1").dispatches.get()

    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {
            "customer": "C-seq",
            "template": "payment-reminder",
            "correlation_key": "ACC-1",
            "supersedes": "payment-reminder",
        },
    )

    assert [d.pk for d in response.context["explanation"].would_cancel] == [reminder.pk]


def test_the_dry_run_names_an_unknown_customer(client, operator, templates):
    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {"customer": "NOPE", "template": "payment-reminder"},
    )

    assert "No customer with external id NOPE." in response.content.decode()


def test_the_dry_run_shows_a_proposed_version_beside_the_rules_in_force(
    client, operator, templates
):
    rule = sms_quiet_hours()
    customer_build("C-late")
    from rules.services import rule_propose

    proposal = rule_propose(
        actor=operator, rule=rule.rule, quiet_start=time(23), reason="later"
    )
    asked = {
        "customer": "C-late",
        "template": "payment-reminder",
        "channel": "sms",
        "at": "2027-06-01 22:00",
        "proposal": proposal.pk,
    }

    response = client.get(reverse("admin:rules_rule_dry_run"), asked)

    (_, in_force), (heading, proposed) = response.context["explanations"]
    assert in_force.channels[0].verdict.due_at == at("2027-06-02 08:00")
    assert proposed.channels[0].verdict.due_at == at("2027-06-01 22:00")
    assert heading == (
        "With the proposed SMS quiet hours v2 (Change), not yet approved"
    )
    page = response.content.decode()
    assert 'id="dry-run-proposed"' in page and "outside 23:00–08:00 UTC" in page
    # Nothing was applied: the rule in force is still version 1.
    assert [r.number for r in rules_in_force()] == [1]


def test_a_review_page_links_the_proposal_to_the_dry_run(client, operator):
    client.post(reverse("admin:rules_rule_add"), ADD)
    version = RuleVersion.objects.get()

    page = client.get(
        reverse("admin:rules_ruleversion_change", args=[version.pk])
    ).content.decode()
    dry_run = client.get(reverse("admin:rules_rule_dry_run"), {"proposal": version.pk})

    assert f"{reverse('admin:rules_rule_dry_run')}?proposal={version.pk}" in page
    assert dry_run.context["form"].initial["proposal"] == str(version.pk)
    assert not dry_run.context["form"].errors


def test_demo_defaults_are_seeded_once_proposed_and_approved_by_two_operators():
    rules_demo_seed()
    rules_demo_seed()

    assert Rule.objects.count() == 4
    assert {
        (v.proposed_by.username, v.decided_by.username) for v in rules_in_force()
    } == {("operator", "operator-2")}
    assert AuditEvent.objects.filter(action="rules.rule.approved").count() == 4
