"""Small display helpers for the console templates."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django import template
from django.utils import formats, timezone, translation
from django.utils.translation import gettext_lazy as _

from audit.vocabulary import action_label
from channels_app.models import Dispatch, DispatchAttempt
from customers.reasons import reason_display
from rules.labels import outcome_label
from templates_app.models import Channel, Language
from templates_app.models import Status as VersionStatus

register = template.Library()

# The translated name of a central-rule outcome.
register.filter("rule_outcome", outcome_label)


# The stored codes a page may print, by kind, with their translated labels.
LABELS = {
    "channel": Channel,
    "status": Dispatch.Status,
    "attempt": DispatchAttempt.Outcome,
    "version": VersionStatus,
    "language": Language,
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


RULE_STAGES = {
    "queue": _("when queued"),
    "due": _("when due"),
}


@register.filter
def rule_stage(stage: str) -> str:
    """Return when a rule decision was taken, in words (queueing or sending time)."""
    return RULE_STAGES.get(stage, stage)


def moment_parse(value) -> datetime | None:
    """Return a stored moment (datetime or ISO 8601 text) as an aware datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value)


@register.filter
def moment(value) -> str:
    """Return a moment in the reader's time zone, the zone named."""
    parsed = moment_parse(value)
    if parsed is None:
        return value or ""
    return formats.date_format(timezone.localtime(parsed), "SHORT_DATETIME_FORMAT")


@register.filter
def customer_time(value, zone_name: str) -> str:
    """Return a moment in the customer's time zone, with the zone's name.

    Empty when the customer's zone is the reader's: the time beside says it.
    """
    parsed = moment_parse(value)
    if parsed is None or not zone_name:
        return ""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    if zone.key == getattr(timezone.get_current_timezone(), "key", None):
        return ""
    local = parsed.astimezone(zone)
    return _("%(time)s for the customer (%(zone)s)") % {
        "time": formats.date_format(local, "SHORT_DATETIME_FORMAT"),
        "zone": zone_name,
    }


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
