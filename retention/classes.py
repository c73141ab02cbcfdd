"""Every write of a retention class, and the four-eyes rule on shorter periods.

A shorter period makes the next daily run erase content for good, so a class
change or a new class that keeps any part for less time than the periods in
force (the category's class, else the default class) is a proposal
(`RetentionClassChange`) that someone other than the proposer approves. A
change that keeps everything at least as long applies at once, audited: it
erases nothing, and waiting for a second person could let the run erase what
the longer period was set to keep. This module alone changes a proposal's
status, each time with its audit event in the same transaction. The run reads
only `RetentionClass`, so a proposal erases nothing until approved.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from retention.models import (
    PART_FIELDS,
    RetentionClass,
    RetentionClassChange,
    periods_shortened,
)
from templates_app.models import Category

PERIOD_FIELDS = tuple(PART_FIELDS.values())
Status = RetentionClassChange.Status
APPROVE, REJECT, WITHDRAW = "approve", "reject", "withdraw"
DECIDE_PERMISSION = "retention.approve_retentionclasschange"


def _snapshot(retention_class: RetentionClass) -> dict:
    category = retention_class.category
    return {
        "name": retention_class.name,
        "category": category.code if category is not None else None,
        **retention_class_periods(retention_class),
    }


def retention_class_periods(retention_class: RetentionClass | None) -> dict:
    """Return a class's periods by field name (all None without a class)."""
    return {name: getattr(retention_class, name, None) for name in PERIOD_FIELDS}


def class_in_force(category: Category | None, *, lock: bool = False):
    """Return the category's own class (None if it has none) and the class in force.

    The class in force is the category's own, else the default class.
    """
    classes = RetentionClass.objects.select_related("category")
    if lock:
        classes = classes.select_for_update(of=("self",))
    own = classes.filter(category=category).first()
    if own is not None or category is None:
        return own, own
    return None, classes.filter(category__isnull=True).first()


def _permission_check(actor: AbstractBaseUser | None, permission: str, message: str):
    if actor is not None and not (actor.is_active and actor.has_perm(permission)):
        raise PermissionDenied(message % {"user": actor})


def _open_refuse(category: Category | None) -> None:
    if RetentionClassChange.objects.filter(
        category=category, status=Status.PROPOSED
    ).exists():
        raise ValidationError(
            _(
                "This retention class already has a proposed change; it must be "
                "approved, rejected or withdrawn before the class changes again."
            ),
            code="open",
        )


@transaction.atomic
def retention_class_set(
    *,
    actor: AbstractBaseUser | None,
    category: Category | None,
    name: str,
    periods: dict,
    reason: str = "",
) -> RetentionClassChange | None:
    """Set the class of `category` (None: the default class).

    Apply at once, audited, when no period is shorter than the one in force;
    else record a proposal another user approves and return it. The class
    row's lock makes a concurrent proposal wait and then see this one.
    """
    unknown = set(periods) - set(PERIOD_FIELDS)
    if unknown:
        raise ValueError(f"not retention periods: {', '.join(sorted(unknown))}")
    own, in_force = class_in_force(category, lock=True)
    codename = "change" if own is not None else "add"
    _permission_check(
        actor,
        f"retention.{codename}_retentionclass",
        _("%(user)s may not set retention classes."),
    )
    before = retention_class_periods(in_force)
    after = {**(before if own is not None else {}), **periods}
    after = {field: after.get(field) for field in PERIOD_FIELDS}
    was = _snapshot(own) if own is not None else None
    draft = own if own is not None else RetentionClass(category=category)
    draft.name = (name or "").strip()
    for field, days in after.items():
        setattr(draft, field, days)
    draft.full_clean()
    if was is not None and was == _snapshot(draft):
        return None
    # An open proposal was made against the class as it is: nothing else
    # changes it meanwhile, or its approval would undo what changed.
    _open_refuse(category)
    if periods_shortened(before, after):
        return _propose(
            actor=actor,
            retention_class=own,
            draft=draft,
            before=before,
            reason=reason,
        )
    fields = ["name", *PERIOD_FIELDS, "changed"]
    if own is None:
        draft.save()
    else:
        draft.save(update_fields=fields)
    event_record(
        action="retention.class.changed",
        actor=actor,
        subject=draft,
        before=was,
        after=_snapshot(draft),
        reason=(reason or "").strip(),
    )
    return None


def _propose(
    *,
    actor: AbstractBaseUser | None,
    retention_class: RetentionClass | None,
    draft: RetentionClass,
    before: dict,
    reason: str,
) -> RetentionClassChange:
    if actor is None:
        raise PermissionDenied(
            _("A shorter retention period needs a user who proposes it.")
        )
    change = RetentionClassChange(
        retention_class=retention_class,
        category=draft.category,
        name=draft.name,
        before=before,
        reason=(reason or "").strip(),
        proposer=actor,
        **retention_class_periods(draft),
    )
    try:
        with transaction.atomic():
            change.save()
    except IntegrityError:
        # Two proposals for a class without a row to lock: the constraint.
        raise ValidationError(
            _("This retention class already has a proposed change."), code="open"
        ) from None
    event_record(
        action="retention.class.change_proposed",
        actor=actor,
        subject=retention_class or change,
        before=before,
        after={
            "name": change.name,
            "category": draft.category.code if draft.category else None,
            **change.periods(),
            "shortened": periods_shortened(before, change.periods()),
        },
        reason=change.reason,
    )
    return change


def change_refusal(
    change: RetentionClassChange, actor: AbstractBaseUser, verb: str
) -> str | None:
    """Return why `actor` may not approve, reject or withdraw `change`, or None.

    The one guard: the services raise it, the admin shows a button only when it
    is None.
    """
    if change.status != Status.PROPOSED:
        return _("This change is already %(status)s.") % {
            "status": change.get_status_display()
        }
    if verb == WITHDRAW:
        if actor.pk != change.proposer_id:
            return _("Only the proposer may withdraw a proposed change.")
        return None
    if actor.pk == change.proposer_id and verb == REJECT:
        return _("The proposer withdraws a proposal rather than rejecting it.")
    if not (actor.is_active and actor.has_perm(DECIDE_PERMISSION)):
        return _("%(user)s may not decide retention class changes.") % {"user": actor}
    if verb == APPROVE:
        if actor.pk == change.proposer_id:
            return _(
                "Segregation of duties: %(user)s proposed this change and may "
                "not approve it."
            ) % {"user": actor}
        own, in_force = class_in_force(change.category)
        if (
            own != change.retention_class
            or retention_class_periods(in_force) != change.before
        ):
            return _(
                "The periods in force changed since the proposal was made; "
                "propose again from the current ones."
            )
    return None


def _decide(
    change: RetentionClassChange,
    *,
    actor: AbstractBaseUser,
    verb: str,
    status: str,
    comment: str,
) -> RetentionClassChange:
    """Lock the class, then re-read the change: a decision taken meanwhile shows.

    The class first, in the order `retention_class_set` takes them.
    """
    if change.retention_class_id:
        RetentionClass.objects.select_for_update().get(pk=change.retention_class_id)
    change = RetentionClassChange.objects.select_for_update().get(pk=change.pk)
    refusal = change_refusal(change, actor, verb)
    if refusal is not None:
        raise PermissionDenied(refusal)
    change.status = status
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.comment = comment
    change.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    return change


def _decision_record(
    change: RetentionClassChange, action: str, subject, after: dict
) -> None:
    event_record(
        action=action,
        actor=change.decided_by,
        subject=subject,
        before=change.before,
        after=after,
        reason=change.comment or change.reason,
    )


@transaction.atomic
def retention_class_change_approve(
    *, change: RetentionClassChange, actor: AbstractBaseUser, comment: str = ""
) -> RetentionClassChange:
    """Apply a proposed class, approved by someone other than its proposer."""
    change = _decide(
        change,
        actor=actor,
        verb=APPROVE,
        status=Status.APPROVED,
        comment=(comment or "").strip(),
    )
    retention_class = change.retention_class or RetentionClass(category=change.category)
    retention_class.name = change.name
    for field, days in change.periods().items():
        setattr(retention_class, field, days)
    retention_class.full_clean(validate_unique=False, validate_constraints=False)
    if retention_class.pk is None:
        retention_class.save()
        change.retention_class = retention_class
        change.save(update_fields=["retention_class"])
    else:
        retention_class.save(update_fields=["name", *PERIOD_FIELDS, "changed"])
    _decision_record(
        change,
        "retention.class.change_approved",
        retention_class,
        _snapshot(retention_class),
    )
    return change


@transaction.atomic
def retention_class_change_reject(
    *, change: RetentionClassChange, actor: AbstractBaseUser, comment: str
) -> RetentionClassChange:
    """Refuse a proposed class, with a reason, leaving the periods as they are."""
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError(
            _("A rejection needs a reason for the proposer."), code="reason"
        )
    change = _decide(
        change, actor=actor, verb=REJECT, status=Status.REJECTED, comment=comment
    )
    _decision_record(
        change,
        "retention.class.change_rejected",
        change.retention_class or change,
        change.periods(),
    )
    return change


@transaction.atomic
def retention_class_change_withdraw(
    *, change: RetentionClassChange, actor: AbstractBaseUser, comment: str = ""
) -> RetentionClassChange:
    """Take back one's own proposal."""
    change = _decide(
        change,
        actor=actor,
        verb=WITHDRAW,
        status=Status.WITHDRAWN,
        comment=(comment or "").strip(),
    )
    _decision_record(
        change,
        "retention.class.change_withdrawn",
        change.retention_class or change,
        change.periods(),
    )
    return change
