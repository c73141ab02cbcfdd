"""Small display helpers for the console templates."""

from django import template
from django.utils import translation

from audit.vocabulary import action_label
from ccm.bidi import bidi_visible
from ccm.moments import customer_time, moment_display
from channels_app.models import Dispatch, DispatchAttempt
from customers.reasons import reason_display
from rules.labels import outcome_label, stage_label
from templates_app.models import Category, Channel, Language
from templates_app.models import Status as VersionStatus

register = template.Library()

# The translated name of a central-rule outcome.
register.filter("rule_outcome", outcome_label)
# A name stored with direction controls shows them: [U+202E].
register.filter("bidi_visible", bidi_visible)


# The stored codes a page may print, by kind, with their translated labels.
LABELS = {
    "channel": Channel,
    "status": Dispatch.Status,
    "attempt": DispatchAttempt.Outcome,
    "version": VersionStatus,
    "language": Language,
    "category_kind": Category.Kind,
}


@register.filter
def label(code: str, kind: str) -> str:
    """Return the label of a stored code of a kind ("channel", "status", …).

    A code the kind does not know is returned as stored.
    """
    choices = LABELS[kind]
    return choices(code).label if code in choices.values else code


# An audit action's meaning in the reader's language; the code stays stored.
register.filter("action_label", action_label)

# A stored consent or rule reason in the agent's language (English as stored).
register.filter("reason_display", reason_display)


# When a rule decision was taken, in words (queueing or sending time).
register.filter("rule_stage", stage_label)


# A moment in the reader's zone; one on the customer's clock where theirs differs.
register.filter("moment", moment_display)
register.filter("customer_time", customer_time)


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


@register.filter
def direction(language: str) -> str:
    """Return the writing direction of a language code: "rtl" or "ltr"."""
    try:
        return "rtl" if translation.get_language_info(language)["bidi"] else "ltr"
    except KeyError:
        return "ltr"


@register.filter
def masked(text: str, contacts) -> str:
    """Return a stored text with the contact points it names masked.

    `contacts` is the page's `masking.ContactMask`, or None once unmasked.
    """
    return contacts(text) if contacts else text
