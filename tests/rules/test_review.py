"""Rule changes apply to dispatches only once a second operator approves them."""

from datetime import time

import pytest
from django.db import IntegrityError, transaction

from audit.models import AuditEvent
from ccm.roles import AGENT, OPERATOR
from channels_app.models import Dispatch
from rules import services
from rules.models import RuleVersion
from rules.selectors import rule_set_revision, rules_in_force
from tests.factories import user_build
from tests.rules.conftest import at, sms_quiet_hours, trigger

pytestmark = pytest.mark.django_db

Status = RuleVersion.Status
NIGHT = at("2027-06-01 23:00")
MORNING = at("2027-06-02 08:00")
QUIET = {
    "kind": "quiet_hours",
    "channel": "sms",
    "quiet_start": time(21),
    "quiet_end": time(8),
}


@pytest.fixture
def omar(db):
    return user_build(username="omar", role=OPERATOR)


@pytest.fixture
def nadia(db):
    return user_build(username="nadia", role=OPERATOR)


def _night_sms(customer) -> Dispatch:
    return trigger(customer, scheduled_for=NIGHT).dispatches.get()


def test_a_proposed_rule_is_not_applied_until_another_operator_approves_it(
    templates, customer, omar, nadia
):
    proposal = services.rule_propose(
        actor=omar, name="SMS quiet hours", reason="night SMS", **QUIET
    )

    before = _night_sms(customer)
    services.rule_version_approve(version=proposal, actor=nadia)
    after = _night_sms(customer)

    assert (before.due_at, before.rule_decisions) == (NIGHT, [])
    assert after.due_at == MORNING
    [decision] = after.rule_decisions
    assert (decision["rule"], decision["version"], decision["outcome"]) == (
        "SMS quiet hours",
        1,
        "deferred",
    )


def test_a_proposed_change_is_not_applied_and_a_rejection_keeps_the_rule_in_force(
    templates, customer, omar, nadia
):
    rule = sms_quiet_hours()
    proposal = services.rule_propose(
        actor=omar, rule=rule.rule, quiet_end=time(10), reason="later mornings"
    )

    while_proposed = _night_sms(customer)
    services.rule_version_reject(version=proposal, actor=nadia, comment="no")
    after_rejection = _night_sms(customer)

    for dispatch in (while_proposed, after_rejection):
        assert dispatch.due_at == MORNING
        assert dispatch.rule_decisions[0]["version"] == 1
    assert [(r.pk, r.status) for r in rules_in_force()] == [(rule.pk, Status.APPROVED)]


def test_an_approved_change_decides_with_its_own_version_number(
    templates, customer, omar, nadia
):
    rule = sms_quiet_hours()
    proposal = services.rule_propose(actor=omar, rule=rule.rule, quiet_end=time(9))
    services.rule_version_approve(version=proposal, actor=nadia)

    dispatch = _night_sms(customer)

    assert dispatch.due_at == at("2027-06-02 09:00")
    assert dispatch.rule_decisions[0]["version"] == 2


def test_the_service_refuses_a_self_approval_and_a_self_rejection(omar):
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)

    for decide in (services.rule_version_approve, services.rule_version_reject):
        with pytest.raises(services.ReviewRefused, match="Segregation of duties"):
            decide(version=proposal, actor=omar, comment="mine")

    proposal.refresh_from_db()
    assert proposal.status == Status.PROPOSED


def test_the_database_refuses_a_self_approval_written_behind_the_service(omar):
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)
    proposal.status = Status.APPROVED
    proposal.decided_by = omar

    with pytest.raises(IntegrityError), transaction.atomic():
        proposal.save(update_fields=["status", "decided_by"])


def test_a_proposed_versions_values_are_frozen(omar):
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)
    proposal.quiet_start = time(18)

    with pytest.raises(ValueError, match="frozen"):
        proposal.save(update_fields=["quiet_start"])
    with pytest.raises(ValueError, match="frozen"):
        proposal.save()


def test_only_an_operator_who_may_change_rules_proposes_or_decides(omar):
    agent = user_build(username="aisha", role=AGENT)
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)

    with pytest.raises(services.ReviewRefused, match="Only an operator"):
        services.rule_propose(actor=agent, name="Other", **QUIET)
    with pytest.raises(services.ReviewRefused, match="Only an operator"):
        services.rule_version_approve(version=proposal, actor=agent)


def test_a_decided_version_cannot_be_decided_again(omar, nadia):
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)
    services.rule_version_approve(version=proposal, actor=nadia)

    with pytest.raises(services.ReviewRefused, match="only a proposed change"):
        services.rule_version_reject(version=proposal, actor=nadia, comment="late")


def test_one_proposal_at_a_time_and_no_empty_change(omar, nadia):
    rule = sms_quiet_hours()

    with pytest.raises(services.ReviewRefused, match="changes nothing"):
        services.rule_propose(actor=omar, rule=rule.rule, quiet_start=time(21))
    first = services.rule_propose(actor=omar, rule=rule.rule, quiet_start=time(22))
    with pytest.raises(services.ReviewRefused, match="awaiting approval"):
        services.rule_propose(actor=nadia, rule=rule.rule, quiet_start=time(20))
    services.rule_version_withdraw(version=first, actor=omar)
    again = services.rule_propose(actor=nadia, rule=rule.rule, quiet_start=time(20))

    assert (first.number, again.number) == (2, 3)


def test_only_the_proposer_withdraws(omar, nadia):
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)

    with pytest.raises(services.ReviewRefused, match="Only the operator who"):
        services.rule_version_withdraw(version=proposal, actor=nadia)
    services.rule_version_withdraw(version=proposal, actor=omar)

    assert AuditEvent.objects.get(action="rules.rule.withdrawn").actor == omar


def test_a_retired_rule_stops_applying_and_takes_no_more_changes(omar, nadia):
    rule = sms_quiet_hours()
    retirement = services.rule_retire_propose(rule=rule.rule, actor=omar)

    assert len(rules_in_force()) == 1
    services.rule_version_approve(version=retirement, actor=nadia)
    assert rules_in_force() == []
    with pytest.raises(services.ReviewRefused, match="retired"):
        services.rule_propose(actor=omar, rule=rule.rule, quiet_start=time(20))


def test_the_revision_grows_with_every_approval_only(omar, nadia):
    revisions = [rule_set_revision()]
    proposal = services.rule_propose(actor=omar, name="Quiet", **QUIET)
    revisions.append(rule_set_revision())
    services.rule_version_approve(version=proposal, actor=nadia)
    revisions.append(rule_set_revision())
    change = services.rule_propose(
        actor=nadia, rule=proposal.rule, quiet_start=time(22)
    )
    services.rule_version_reject(version=change, actor=omar, comment="no")
    revisions.append(rule_set_revision())
    change = services.rule_propose(
        actor=nadia, rule=proposal.rule, quiet_start=time(23)
    )
    services.rule_version_approve(version=change, actor=omar)
    revisions.append(rule_set_revision())

    assert revisions == [0, 0, 1, 1, 2]


def test_every_transition_writes_its_event_with_before_and_after(omar, nadia):
    created = services.rule_propose(actor=omar, name="Quiet", reason="why", **QUIET)
    services.rule_version_approve(version=created, actor=nadia, comment="ok")
    change = services.rule_propose(actor=nadia, rule=created.rule, quiet_end=time(9))
    with pytest.raises(services.ReviewRefused):  # refused: writes nothing
        services.rule_propose(actor=nadia, rule=created.rule, quiet_end=time(7))
    services.rule_version_withdraw(version=change, actor=nadia)

    events = [
        (
            e.action,
            e.actor.username,
            (e.before or {}).get("version"),
            e.after["version"],
        )
        for e in AuditEvent.objects.filter(action__startswith="rules.rule.").order_by(
            "sequence"
        )
    ]
    assert events == [
        ("rules.rule.proposed", "omar", None, 1),
        ("rules.rule.approved", "nadia", None, 1),
        ("rules.rule.proposed", "nadia", 1, 2),
        ("rules.rule.withdrawn", "nadia", 1, 2),
    ]
