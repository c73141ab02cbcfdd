"""Every write to the rule set: validated, versioned, history-tracked and audited."""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.forms.models import model_to_dict

from audit.services import event_record
from rules.models import Rule

# What an audit event shows of a rule, before and after a change.
RULE_FIELDS = (
    "name",
    "kind",
    "enabled",
    "description",
    "channel",
    "category_kind",
    "categories",
    "quiet_start",
    "quiet_end",
    "exempt_mandatory",
    "exempt_categories",
    "cap_count",
    "window_hours",
    "cap_mode",
    "version",
)


def _snapshot(rule: Rule) -> dict:
    values = model_to_dict(rule, fields=RULE_FIELDS)
    values["version"] = rule.version
    for name in ("quiet_start", "quiet_end"):
        if values.get(name) is not None:
            values[name] = values[name].strftime("%H:%M")
    return values


@transaction.atomic
def rule_create(
    *, actor: AbstractBaseUser | None = None, reason: str = "", **fields
) -> Rule:
    """Create a rule at version 1."""
    rule = Rule(**fields)
    rule.version = 1
    rule.full_clean()
    rule._change_reason = reason or "created"
    rule.save()
    event_record(
        action="rules.rule.created",
        actor=actor,
        subject=rule,
        after=_snapshot(rule),
        reason=reason,
    )
    return rule


@transaction.atomic
def rule_update(
    *, rule: Rule, actor: AbstractBaseUser | None = None, reason: str = "", **fields
) -> Rule:
    """Change a rule and bump its version; an unchanged rule keeps its version."""
    locked = Rule.objects.select_for_update().get(pk=rule.pk)
    before = _snapshot(locked)
    for name, value in fields.items():
        if name not in RULE_FIELDS or name == "version":
            raise ValueError(f"{name!r} is not an editable rule field")
        setattr(locked, name, value)
    locked.full_clean()
    after = _snapshot(locked)
    if after == before:
        return locked
    locked.version += 1
    after["version"] = locked.version
    locked._change_reason = reason or "changed"
    locked.save()
    event_record(
        action="rules.rule.changed",
        actor=actor,
        subject=locked,
        before=before,
        after=after,
        reason=reason,
    )
    return locked


@transaction.atomic
def rule_delete(*, rule: Rule, actor: AbstractBaseUser | None = None, reason: str = ""):
    """Delete a rule; its history and the decisions that name it remain."""
    before = _snapshot(rule)
    event_record(
        action="rules.rule.deleted",
        actor=actor,
        subject=rule,
        before=before,
        reason=reason,
    )
    rule._change_reason = reason or "deleted"
    rule.delete()
