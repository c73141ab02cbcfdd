"""Legal holds: what may not be erased, placed and released with four eyes.

A hold covers a customer, a template version, a category or a date range of
dispatch creation. Nothing a hold covers is erased, by the retention run or on
a data subject's request (`dispatches_unheld` is the filter both use), until
the hold is released; the release takes someone other than who placed it, since
it lets destruction go ahead. The active holds are a handful of rows, read once
per query.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from channels_app.models import Dispatch
from customers.models import Customer
from retention.models import LegalHold

Scope = LegalHold.Scope


def holds_active() -> list[LegalHold]:
    """Return the holds not yet released, oldest first."""
    return list(
        LegalHold.objects.filter(released_at__isnull=True)
        .select_related("category")
        .order_by("placed_at", "id")
    )


def holds_condition(holds: list[LegalHold]) -> Q | None:
    """Return the condition a Dispatch meets when one of `holds` covers it."""
    held = Q(pk__in=[])
    for hold in holds:
        if hold.scope == Scope.CUSTOMER:
            held |= Q(communication__customer_id=hold.customer_id)
        elif hold.scope == Scope.TEMPLATE_VERSION:
            held |= Q(communication__template_version_id=hold.template_version_id)
        elif hold.scope == Scope.CATEGORY:
            held |= Q(communication__category=hold.category.code)
        elif hold.scope == Scope.DATE_RANGE:
            start, end = hold.window()
            held |= Q(created__gte=start, created__lt=end)
    return held if holds else None


def dispatches_held(
    dispatches: QuerySet, holds: list[LegalHold] | None = None
) -> QuerySet:
    """Return the dispatches of `dispatches` an active hold covers."""
    condition = holds_condition(holds_active() if holds is None else holds)
    return dispatches.none() if condition is None else dispatches.filter(condition)


def dispatches_unheld(
    dispatches: QuerySet, holds: list[LegalHold] | None = None
) -> QuerySet:
    """Return the dispatches of `dispatches` no active hold covers."""
    condition = holds_condition(holds_active() if holds is None else holds)
    return dispatches if condition is None else dispatches.exclude(condition)


def customer_holds(customer: Customer) -> list[LegalHold]:
    """Return the active holds that keep anything of this customer.

    A hold on the customer, and a hold on a template version, category or
    date range that covers at least one of the customer's dispatches.
    """
    theirs = Dispatch.objects.filter(communication__customer=customer)
    return [
        hold
        for hold in holds_active()
        if (hold.scope == Scope.CUSTOMER and hold.customer_id == customer.pk)
        or (hold.scope != Scope.CUSTOMER and dispatches_held(theirs, [hold]).exists())
    ]


def _permission_check(actor: AbstractBaseUser | None, codename: str, message: str):
    if actor is not None and not (
        actor.is_active and actor.has_perm(f"retention.{codename}")
    ):
        raise PermissionDenied(message % {"user": actor})


@transaction.atomic
def hold_place(
    *,
    actor: AbstractBaseUser | None,
    scope: str,
    reason: str,
    reference: str,
    customer: Customer | None = None,
    template_version=None,
    category=None,
    starts=None,
    ends=None,
) -> LegalHold:
    """Place a legal hold: nothing it covers is erased until it is released."""
    _permission_check(actor, "add_legalhold", _("%(user)s may not place legal holds."))
    hold = LegalHold(
        scope=scope,
        customer=customer,
        template_version=template_version,
        category=category,
        starts=starts,
        ends=ends,
        reason=(reason or "").strip(),
        reference=(reference or "").strip(),
        placed_by=actor,
    )
    hold.full_clean(exclude=["placed_by", "released_by"])
    hold.save()
    event_record(
        action="retention.hold.placed",
        actor=actor,
        subject=hold,
        after={
            "scope": hold.scope,
            "covers": hold.target_label(),
            "reference": hold.reference,
        },
        reason=hold.reason,
    )
    return hold


@transaction.atomic
def hold_release(
    *, hold: LegalHold, actor: AbstractBaseUser | None, reason: str
) -> LegalHold:
    """Release a hold; someone other than who placed it must do it, with a reason.

    What the hold covered is erased by the next run if its period has ended.
    """
    _permission_check(
        actor, "release_legalhold", _("%(user)s may not release legal holds.")
    )
    hold = LegalHold.objects.select_for_update().get(pk=hold.pk)
    if not hold.active:
        raise ValidationError(
            _("The hold %(hold)s was already released.") % {"hold": hold},
            code="released",
        )
    if actor is not None and actor.pk == hold.placed_by_id:
        raise PermissionDenied(
            _("Who placed a hold may not release it: ask a second person.")
        )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(_("Give the reason for the release."), code="reason")
    hold.released_at = timezone.now()
    hold.released_by = actor
    hold.release_reason = reason
    hold.save(update_fields=["released_at", "released_by", "release_reason"])
    event_record(
        action="retention.hold.released",
        actor=actor,
        subject=hold,
        before={
            "scope": hold.scope,
            "covers": hold.target_label(),
            "reference": hold.reference,
        },
        after={"held_days": (hold.released_at - hold.placed_at).days},
        reason=reason,
    )
    return hold
