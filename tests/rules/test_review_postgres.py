"""Operators deciding one rule at the same moment take turns on its row lock.

Each side runs in its own thread with its own PostgreSQL connection, released
together: exactly one decision or proposal wins, the other is refused by name.
"""

import threading
from datetime import time

import pytest
from django.db import connections

from audit.models import AuditEvent
from rules import services
from rules.models import RuleVersion
from rules.selectors import rules_in_force
from tests.factories import user_build

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

QUIET = {
    "kind": "quiet_hours",
    "channel": "sms",
    "quiet_start": time(21),
    "quiet_end": time(8),
}


def _at_once(*actions) -> list:
    """Run the actions in threads released together; return each outcome."""
    start = threading.Barrier(len(actions))
    outcomes: list = [None] * len(actions)

    def run(n, action):
        try:
            start.wait()
            outcomes[n] = action()
        except Exception as exc:  # the outcome under test
            outcomes[n] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=(n, action))
        for n, action in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def _operators(*names):
    return [user_build(username=name, is_superuser=True) for name in names]


def test_two_operators_deciding_one_proposal_at_once_decide_it_once():
    omar, nadia, rami = _operators("omar", "nadia", "rami")
    proposal = services.rule_propose(actor=omar, name="SMS quiet hours", **QUIET)

    outcomes = _at_once(
        lambda: services.rule_version_approve(version=proposal, actor=nadia),
        lambda: services.rule_version_reject(
            version=proposal, actor=rami, comment="too strict"
        ),
    )

    refused = [o for o in outcomes if isinstance(o, services.ReviewRefused)]
    decided = [o for o in outcomes if isinstance(o, RuleVersion)]
    assert (len(refused), len(decided)) == (1, 1), outcomes
    assert "only a proposed change can be decided" in refused[0].messages[0]
    assert (
        AuditEvent.objects.filter(
            action__in=["rules.rule.approved", "rules.rule.rejected"]
        ).count()
        == 1
    )
    proposal.refresh_from_db()
    assert proposal.status == decided[0].status


def test_two_proposals_for_one_rule_at_once_leave_one_awaiting_approval():
    omar, nadia = _operators("omar", "nadia")
    created = services.rule_propose(actor=omar, name="SMS quiet hours", **QUIET)
    in_force = services.rule_version_approve(version=created, actor=nadia)

    outcomes = _at_once(
        lambda: services.rule_propose(
            actor=omar, rule=in_force.rule, quiet_start=time(22)
        ),
        lambda: services.rule_propose(
            actor=nadia, rule=in_force.rule, quiet_start=time(20)
        ),
    )

    refused = [o for o in outcomes if isinstance(o, services.ReviewRefused)]
    assert len(refused) == 1, outcomes
    assert "already has a change awaiting approval" in refused[0].messages[0]
    assert in_force.rule.versions.filter(status="proposed").count() == 1
    assert [v.number for v in rules_in_force()] == [1]


def test_two_operators_naming_a_new_rule_alike_at_once_create_it_once():
    omar, nadia = _operators("omar", "nadia")

    outcomes = _at_once(
        lambda: services.rule_propose(actor=omar, name="SMS quiet hours", **QUIET),
        lambda: services.rule_propose(actor=nadia, name="SMS quiet hours", **QUIET),
    )

    refused = [o for o in outcomes if not isinstance(o, RuleVersion)]
    assert len(refused) == 1, outcomes
    assert "A rule named SMS quiet hours exists already." in str(refused[0])
    assert RuleVersion.objects.count() == 1
