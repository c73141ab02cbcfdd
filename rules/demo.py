"""The default rule set, seeded with the demo data (not by a migration).

Rules decide when real customers are contacted, so a fresh install starts with
none and operators add their own; the demo shows sensible defaults, each
proposed by one demo operator and approved by another.
"""

from datetime import time

from django.contrib.auth import get_user_model
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction

from rules.models import Rule, RuleVersion
from rules.services import rule_propose, rule_version_approve

# The role whose members propose and approve rule changes (ccm.roles.OPERATOR).
OPERATOR_GROUP = "Operator"

DEFAULT_RULES = [
    {
        "name": "SMS quiet hours",
        "kind": Rule.Kind.QUIET_HOURS,
        "channel": "sms",
        "quiet_start": time(21),
        "quiet_end": time(8),
        "exempt_mandatory": True,
        "description": "No SMS between 21:00 and 08:00 in the customer's time "
        "zone; mandatory notices such as passcodes are exempt.",
    },
    {
        "name": "Marketing: at most 3 a week",
        "kind": Rule.Kind.FREQUENCY_CAP,
        "category_kind": "marketing",
        "cap_count": 3,
        "window_hours": 24 * 7,
        "cap_mode": Rule.CapMode.SUPPRESS,
        "description": "Across every channel and source system.",
    },
    {
        "name": "Marketing: at most 1 a day",
        "kind": Rule.Kind.FREQUENCY_CAP,
        "category_kind": "marketing",
        "cap_count": 1,
        "window_hours": 24,
        "cap_mode": Rule.CapMode.SUPPRESS,
        "description": "Across every channel and source system.",
    },
    {
        "name": "Once a day per template and account",
        "kind": Rule.Kind.DEDUPE,
        "window_hours": 24,
        "description": "The same template for the same customer and "
        "correlation key goes once in 24 hours.",
    },
]


def demo_operator(username: str) -> AbstractBaseUser:
    """Return a demo operator, created without a password when missing."""
    user, created = get_user_model().objects.get_or_create(
        username=username,
        defaults={"email": f"{username}@demo.example.com", "is_staff": True},
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get(name=OPERATOR_GROUP))
    return user


def rule_seed_approved(
    *,
    proposer: AbstractBaseUser,
    approver: AbstractBaseUser,
    name: str,
    reason: str = "demo defaults",
    **values,
) -> RuleVersion:
    """Propose a new rule and approve it by a second operator; return it in force."""
    version = rule_propose(actor=proposer, name=name, reason=reason, **values)
    return rule_version_approve(
        version=version, actor=approver, comment="Checked against the policy."
    )


@transaction.atomic
def rules_demo_seed(
    *,
    proposer: AbstractBaseUser | None = None,
    approver: AbstractBaseUser | None = None,
) -> list[Rule]:
    """Create the default rules that do not exist yet (by name), approved; return all.

    Without operators given, demo operators "operator" and "operator-2" propose
    and approve them.
    """
    proposer = proposer or demo_operator("operator")
    approver = approver or demo_operator("operator-2")
    existing = {rule.name: rule for rule in Rule.objects.all()}
    return [
        existing.get(spec["name"])
        or rule_seed_approved(proposer=proposer, approver=approver, **spec).rule
        for spec in DEFAULT_RULES
    ]
