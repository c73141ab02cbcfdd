"""Small display helpers for the console templates."""

from django import template
from django.utils.translation import gettext_lazy as _

from channels_app.reasons import reason_display

register = template.Library()

RULE_OUTCOMES = {
    "deferred": _("deferred"),
    "capped": _("capped"),
    "superseded": _("superseded"),
    "deduplicated": _("deduplicated"),
    "exempted": _("exempted"),
    "held": _("held"),
}


@register.filter
def rule_outcome(outcome: str) -> str:
    """Return the translated name of a central-rule outcome."""
    return RULE_OUTCOMES.get(outcome, outcome)


# A stored consent or rule reason in the agent's language (English as stored).
register.filter("reason_display", reason_display)


@register.filter
def rule_outcomes(decisions) -> list[str]:
    """Return the distinct outcomes of a dispatch's rule decisions, in order."""
    seen: list[str] = []
    for decision in decisions or []:
        outcome = decision.get("outcome", "") if isinstance(decision, dict) else ""
        if outcome and outcome not in seen:
            seen.append(outcome)
    return seen


@register.filter
def as_json(value) -> str:
    """Return a value as indented JSON, as it was stored."""
    import json

    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
