"""The default rule set, seeded with the demo data (not by a migration).

Rules decide when real customers are contacted, so a fresh install starts with
none and operators add their own; the demo shows sensible defaults.
"""

from datetime import time

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from rules.models import Rule
from rules.services import rule_create

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


@transaction.atomic
def rules_demo_seed(*, actor: AbstractBaseUser | None = None) -> list[Rule]:
    """Create the default rules that do not exist yet (by name); return them all."""
    existing = {rule.name: rule for rule in Rule.objects.all()}
    return [
        existing.get(spec["name"])
        or rule_create(actor=actor, reason="demo defaults", **spec)
        for spec in DEFAULT_RULES
    ]
