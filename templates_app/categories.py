"""Every write of a category: audited, and four-eyes for what decides sending.

A category's kind decides whether its messages override opt-outs (mandatory)
or need an opt-in (marketing); its required approvals decide how many
reviewers approve its templates; its re-certification period decides how long
an approval stays valid. Those three change only through a proposal
(`CategoryChange`) that someone other than the proposer approves. Its names
change directly, audited; its code never changes, since preferences and sent
communications refer to it.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app.models import Category, CategoryChange
from templates_app.services import AuthoringForbidden, WorkflowRefused

# What an audit event shows of a new category.
CATEGORY_FIELDS = (
    "code",
    "name",
    "name_ar",
    "kind",
    "required_approvals",
    "recertify_months",
    "allow_remote_images",
)
# What may change without a second person's approval (audited).
DIRECT_FIELDS = ("name", "name_ar", "allow_remote_images")


def _snapshot(category: Category, fields=CATEGORY_FIELDS) -> dict:
    return {name: getattr(category, name) for name in fields}


def _permission_check(actor: AbstractBaseUser | None, codename: str, message: str):
    if actor is not None and not (
        actor.is_active and actor.has_perm(f"templates_app.{codename}")
    ):
        raise WorkflowRefused(message % {"user": actor}, rule="permission")


def category_create(
    *,
    actor: AbstractBaseUser | None,
    code: str,
    name: str,
    name_ar: str = "",
    kind: str = Category.Kind.SERVICE,
    required_approvals: int = 1,
    recertify_months: int = 0,
    allow_remote_images: bool = False,
) -> Category:
    """Create a category and audit it; `actor` None is the system (demo, seeds).

    No template is in a new category until a reviewer approves a version that
    moves one there, so its first kind needs no second approval.
    """
    if actor is not None and not (
        actor.is_active and actor.has_perm("templates_app.add_category")
    ):
        raise AuthoringForbidden(
            _("%(user)s may not create categories.") % {"user": actor}
        )
    category = Category(
        code=code,
        name=name,
        name_ar=name_ar,
        kind=kind,
        required_approvals=required_approvals,
        recertify_months=recertify_months,
        allow_remote_images=allow_remote_images,
    )
    category.full_clean()
    with transaction.atomic():
        category._change_reason = _("Created")
        category._history_user = actor
        category.save()
        event_record(
            action="templates.category.created",
            actor=actor,
            subject=category,
            after=_snapshot(category),
        )
    return category


def category_update(
    *, category: Category, actor: AbstractBaseUser | None, **fields: str | bool
) -> Category:
    """Change a category's names or remote images; audit it.

    Refuse what needs a proposal.
    """
    if "code" in fields:
        raise WorkflowRefused(
            _(
                "A category's code cannot change: customers' preferences and sent "
                "communications refer to it."
            ),
            rule="immutable",
        )
    if set(fields) & set(CategoryChange.FIELDS):
        raise WorkflowRefused(
            _(
                "A category's kind, required approvals and re-certification "
                "period change only through a proposal that another user approves."
            ),
            rule="four-eyes",
        )
    unknown = set(fields) - set(DIRECT_FIELDS)
    if unknown:
        raise ValueError(f"not category fields: {', '.join(sorted(unknown))}")
    _permission_check(
        actor, "change_category", _("%(user)s may not change categories.")
    )
    with transaction.atomic():
        locked = Category.objects.select_for_update().get(pk=category.pk)
        before = _snapshot(locked, DIRECT_FIELDS)
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        after = _snapshot(locked, DIRECT_FIELDS)
        changed = [name for name in DIRECT_FIELDS if before[name] != after[name]]
        if not changed:
            return locked
        locked._change_reason = _("Changed")
        locked._history_user = actor
        locked.save(update_fields=changed)
        event_record(
            action="templates.category.changed",
            actor=actor,
            subject=locked,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return locked


def category_change_propose(
    *,
    category: Category,
    actor: AbstractBaseUser,
    kind: str | None = None,
    required_approvals: int | None = None,
    recertify_months: int | None = None,
    reason: str = "",
) -> CategoryChange:
    """Propose a new kind, required approvals or re-certification period.

    Nothing changes until another user approves the proposal. The category's
    row lock makes a second concurrent proposal wait and then see the first.
    """
    _permission_check(
        actor, "change_category", _("%(user)s may not propose category changes.")
    )
    with transaction.atomic():
        locked = Category.objects.select_for_update().get(pk=category.pk)
        if locked.changes.filter(status=CategoryChange.Status.PROPOSED).exists():
            raise WorkflowRefused(
                _(
                    "%(category)s already has a proposed change; it must be "
                    "decided or withdrawn first."
                )
                % {"category": locked},
                rule="state",
            )
        before = _snapshot(locked, CategoryChange.FIELDS)
        change = CategoryChange(
            category=locked,
            kind=kind if kind is not None else locked.kind,
            required_approvals=(
                required_approvals
                if required_approvals is not None
                else locked.required_approvals
            ),
            recertify_months=(
                recertify_months
                if recertify_months is not None
                else locked.recertify_months
            ),
            before=before,
            reason=(reason or "").strip(),
            proposer=actor,
        )
        if change.proposed() == before:
            raise WorkflowRefused(
                _("The proposal changes nothing: %(category)s is already so.")
                % {"category": locked},
                rule="unchanged",
            )
        change.full_clean(exclude=["category", "proposer"])
        change._history_user = actor
        try:
            with transaction.atomic():
                change.save()
        except IntegrityError:
            # Without a row lock (a deleted and recreated row), the constraint.
            raise WorkflowRefused(
                _("%(category)s already has a proposed change.") % {"category": locked},
                rule="state",
            ) from None
        event_record(
            action="templates.category.change_proposed",
            actor=actor,
            subject=locked,
            before=before,
            after=change.proposed(),
            reason=change.reason,
        )
    return change


def _locked_open(change: CategoryChange, verb: str) -> tuple[Category, CategoryChange]:
    """Lock the category, then re-read the change: a decision taken meanwhile shows."""
    category = Category.objects.select_for_update().get(pk=change.category_id)
    change = CategoryChange.objects.select_for_update().get(pk=change.pk)
    if change.status != CategoryChange.Status.PROPOSED:
        raise WorkflowRefused(
            _("This change cannot be %(verb)s: it is already %(status)s.")
            % {"verb": verb, "status": change.get_status_display()},
            rule="state",
        )
    return category, change


def _decide(
    change: CategoryChange,
    *,
    status: str,
    actor: AbstractBaseUser,
    comment: str,
    action: str,
    before: dict,
    after: dict,
    category: Category,
) -> CategoryChange:
    change.status = status
    change.decided_by = actor
    change.decided_at = timezone.now()
    change.comment = comment
    change._history_user = actor
    change.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    event_record(
        action=action,
        actor=actor,
        subject=category,
        before=before,
        after=after,
        reason=comment or change.reason,
    )
    return change


def category_change_approve(
    *, change: CategoryChange, actor: AbstractBaseUser, comment: str = ""
) -> CategoryChange:
    """Apply a proposed change, approved by someone other than its proposer."""
    _permission_check(
        actor,
        "approve_category_change",
        _("%(user)s may not approve category changes."),
    )
    with transaction.atomic():
        category, change = _locked_open(change, _("approved"))
        if actor.pk == change.proposer_id:
            raise WorkflowRefused(
                _(
                    "Segregation of duties: %(user)s proposed this change and may "
                    "not approve it."
                )
                % {"user": actor},
                rule="segregation",
            )
        current = _snapshot(category, CategoryChange.FIELDS)
        # A proposal made before a field existed did not see it: compare the rest.
        if {k: current[k] for k in change.before} != change.before:
            raise WorkflowRefused(
                _(
                    "%(category)s changed since the proposal was made; propose "
                    "again from its current values."
                )
                % {"category": category},
                rule="stale",
            )
        for name, value in change.proposed().items():
            setattr(category, name, value)
        category._change_reason = _("Change approved by %(user)s") % {"user": actor}
        category._history_user = actor
        category.save(update_fields=list(CategoryChange.FIELDS))
        return _decide(
            change,
            status=CategoryChange.Status.APPROVED,
            actor=actor,
            comment=(comment or "").strip(),
            action="templates.category.change_approved",
            before=current,
            after=change.proposed(),
            category=category,
        )


def category_change_reject(
    *, change: CategoryChange, actor: AbstractBaseUser, comment: str
) -> CategoryChange:
    """Refuse a proposed change, with the reason, leaving the category as it is."""
    _permission_check(
        actor,
        "approve_category_change",
        _("%(user)s may not decide category changes."),
    )
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowRefused(
            _("A rejection needs a reason for the proposer."), rule="reason"
        )
    with transaction.atomic():
        category, change = _locked_open(change, _("rejected"))
        return _decide(
            change,
            status=CategoryChange.Status.REJECTED,
            actor=actor,
            comment=comment,
            action="templates.category.change_rejected",
            before=change.before,
            after=change.proposed(),
            category=category,
        )


def category_change_withdraw(
    *, change: CategoryChange, actor: AbstractBaseUser, comment: str = ""
) -> CategoryChange:
    """Take back one's own proposal."""
    with transaction.atomic():
        category, change = _locked_open(change, _("withdrawn"))
        if actor.pk != change.proposer_id:
            raise WorkflowRefused(
                _("Only the proposer may withdraw a proposed change."),
                rule="permission",
            )
        return _decide(
            change,
            status=CategoryChange.Status.WITHDRAWN,
            actor=actor,
            comment=(comment or "").strip(),
            action="templates.category.change_withdrawn",
            before=change.before,
            after=change.proposed(),
            category=category,
        )
