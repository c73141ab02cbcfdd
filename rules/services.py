"""Every write to the rule set: proposed by one operator, decided by another, audited.

Each service locks the rule's row first, so proposals and decisions about one
rule take turns, and writes its audit event (before: the version in force,
after: the proposed or newly applied one) in the same transaction.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from ccm.problems import Problem
from rules import problems
from rules.models import TRANSITIONS, VALUE_FIELDS, Rule, RuleVersion

Status = RuleVersion.Status
Change = RuleVersion.Change
# Who may propose, approve and reject rule changes.
REVIEW_PERMISSION = "rules.change_rule"


class ReviewRefused(ValidationError):
    """A proposal or a decision the review of rule changes does not allow.

    Given a `Problem`, it carries its code and is worded when shown.
    """

    def __init__(self, message):
        code = message.code if isinstance(message, Problem) else None
        super().__init__(message, code=code)


def snapshot(version: RuleVersion | None) -> dict | None:
    """Return what an audit event shows of a rule version."""
    if version is None:
        return None
    values = version.values()
    for name in ("quiet_start", "quiet_end"):
        if values[name] is not None:
            values[name] = values[name].strftime("%H:%M")
    return {
        "name": version.rule.name,
        "version": version.number,
        "change": version.change,
        "status": version.status,
        **values,
    }


def _in_force(rule: Rule) -> RuleVersion | None:
    return rule.versions.filter(status=Status.APPROVED).first()


def _actor_check(actor: AbstractBaseUser | None) -> None:
    if actor is None or not actor.has_perm(REVIEW_PERMISSION):
        raise ReviewRefused(
            _("Only an operator allowed to change rules may propose or decide this.")
        )


def _proposal_open_check(rule: Rule, current: RuleVersion | None) -> None:
    if current is not None and current.change == Change.RETIRE:
        raise ReviewRefused(
            _("%(rule)s is retired; propose a new rule instead.") % {"rule": rule}
        )
    pending = (
        rule.versions.filter(status=Status.PROPOSED)
        .select_related("proposed_by")
        .first()
    )
    if pending is not None:
        raise ReviewRefused(
            _(
                "%(rule)s already has a change awaiting approval (v%(number)s by "
                "%(user)s): approve, reject or withdraw it first."
            )
            % {"rule": rule, "number": pending.number, "user": pending.proposed_by}
        )


def _propose(
    *,
    rule: Rule,
    current: RuleVersion | None,
    change: str,
    values: dict,
    actor: AbstractBaseUser,
    reason: str,
) -> RuleVersion:
    last = rule.versions.order_by("-number").values_list("number", flat=True).first()
    version = RuleVersion(
        rule=rule,
        number=(last or 0) + 1,
        change=change,
        status=Status.PROPOSED,
        reason=reason,
        proposed_by=actor,
        **values,
    )
    version.full_clean()
    version.save()
    event_record(
        action="rules.rule.proposed",
        actor=actor,
        subject=version,
        before=snapshot(current),
        after=snapshot(version),
        reason=reason,
    )
    return version


def rule_propose(
    *,
    actor: AbstractBaseUser,
    rule: Rule | None = None,
    name: str = "",
    reason: str = "",
    **values,
) -> RuleVersion:
    """Propose a new rule (`name`) or a change to `rule`; it applies once approved.

    A change starts from the version in force: values not given keep theirs.
    """
    unknown = sorted(set(values) - set(VALUE_FIELDS))
    if unknown:
        raise ValueError(f"not rule values: {unknown}")
    _actor_check(actor)
    with transaction.atomic():
        if rule is None:
            rule = _rule_create(name)
            current = None
        else:
            rule = Rule.objects.select_for_update().get(pk=rule.pk)
            current = _in_force(rule)
        _proposal_open_check(rule, current)
        proposed = {**(current.values() if current else {}), **values}
        if current is not None and proposed == current.values():
            raise ReviewRefused(
                _("The proposal changes nothing: it is the version in force.")
            )
        return _propose(
            rule=rule,
            current=current,
            change=Change.CREATE if current is None else Change.CHANGE,
            values=proposed,
            actor=actor,
            reason=reason,
        )


def _rule_create(name: str) -> Rule:
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Give the rule a name.")})
    taken = ValidationError(
        {"name": _("A rule named %(name)s exists already.") % {"name": name}}
    )
    if Rule.objects.filter(name=name).exists():
        raise taken
    try:
        with transaction.atomic():
            return Rule.objects.create(name=name)
    except IntegrityError:
        raise taken from None


def rule_retire_propose(
    *, rule: Rule, actor: AbstractBaseUser, reason: str = ""
) -> RuleVersion:
    """Propose to retire a rule for good; it applies until that is approved."""
    _actor_check(actor)
    with transaction.atomic():
        rule = Rule.objects.select_for_update().get(pk=rule.pk)
        current = _in_force(rule)
        if current is None:
            raise ReviewRefused(
                _(
                    "%(rule)s has no version in force to retire; reject or "
                    "withdraw its proposal instead."
                )
                % {"rule": rule}
            )
        _proposal_open_check(rule, current)
        return _propose(
            rule=rule,
            current=current,
            change=Change.RETIRE,
            values={**current.values(), "enabled": False},
            actor=actor,
            reason=reason,
        )


def _decided(
    version: RuleVersion, target: str
) -> tuple[RuleVersion, RuleVersion | None]:
    """Lock the version's rule; return the version and the one in force, checked."""
    Rule.objects.select_for_update().get(pk=version.rule_id)
    version = RuleVersion.objects.select_related("rule").get(pk=version.pk)
    if target not in TRANSITIONS[version.status]:
        raise ReviewRefused(
            problems.NOT_DECIDABLE(version=version.label, status=version.status)
        )
    return version, _in_force(version.rule)


def _segregation_check(version: RuleVersion, actor: AbstractBaseUser) -> None:
    if actor.pk == version.proposed_by_id:
        raise ReviewRefused(problems.SEGREGATION(version=version.label))


def _decision_record(
    version: RuleVersion,
    current: RuleVersion | None,
    *,
    status: str,
    actor: AbstractBaseUser,
    decided_by: AbstractBaseUser | None,
    comment: str,
) -> None:
    """Stamp a decision on a version; audit it against the version in force."""
    version.status = status
    version.decided_by = decided_by
    version.decided_at = timezone.now()
    version.comment = comment
    version.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    event_record(
        action=f"rules.rule.{Status(status).value}",
        actor=actor,
        subject=version,
        before=snapshot(current),
        after=snapshot(version),
        reason=comment,
    )


def rule_version_approve(
    *, version: RuleVersion, actor: AbstractBaseUser, comment: str = ""
) -> RuleVersion:
    """Approve a proposed version: it replaces the version in force at once.

    Refused to the operator who proposed it (also by a database constraint).
    """
    _actor_check(actor)
    with transaction.atomic():
        version, current = _decided(version, Status.APPROVED)
        _segregation_check(version, actor)
        if current is not None:
            current.status = Status.SUPERSEDED
            current.save(update_fields=["status"])
        _decision_record(
            version,
            current,
            status=Status.APPROVED,
            actor=actor,
            decided_by=actor,
            comment=comment,
        )
    return version


def rule_version_reject(
    *, version: RuleVersion, actor: AbstractBaseUser, comment: str = ""
) -> RuleVersion:
    """Reject a proposed version with a comment; the version in force stays."""
    _actor_check(actor)
    if not comment.strip():
        raise ReviewRefused(problems.REJECTION_REASON_REQUIRED())
    with transaction.atomic():
        version, current = _decided(version, Status.REJECTED)
        _segregation_check(version, actor)
        _decision_record(
            version,
            current,
            status=Status.REJECTED,
            actor=actor,
            decided_by=actor,
            comment=comment,
        )
    return version


def rule_version_withdraw(
    *, version: RuleVersion, actor: AbstractBaseUser, comment: str = ""
) -> RuleVersion:
    """Withdraw one's own proposal; the version in force stays."""
    _actor_check(actor)
    with transaction.atomic():
        version, current = _decided(version, Status.WITHDRAWN)
        if actor.pk != version.proposed_by_id:
            raise ReviewRefused(
                _(
                    "Only the operator who proposed %(version)s may withdraw it; "
                    "others approve or reject it."
                )
                % {"version": version.label}
            )
        # A withdrawal is no decision by another: decided_by stays empty.
        _decision_record(
            version,
            current,
            status=Status.WITHDRAWN,
            actor=actor,
            decided_by=None,
            comment=comment,
        )
    return version
