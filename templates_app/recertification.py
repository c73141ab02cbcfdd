"""Re-certification: an approval is valid for its category's period, then renewed.

A version in force whose last certification (its approval, or its latest
re-certification) is older than the category's `recertify_months` stays in
force but is expired: flagged in the review queue and the inventory until a
reviewer re-certifies it unchanged, or a new version replaces it.
"""

import calendar
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app import selectors
from templates_app.models import Category, Recertification, Status, TemplateVersion
from templates_app.services import WorkflowRefused, version_hash_ok

# Versions expiring within this many days are listed for their owners.
DUE_SOON_DAYS = 30


def months_add(moment: datetime, months: int) -> datetime:
    """Return `moment` plus whole calendar months (the 31st becomes the month's end)."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def certified_until(versions: Iterable[TemplateVersion]) -> dict[int, datetime | None]:
    """Return when each version's certification expires; None when it never does.

    One query for the latest re-certifications of all of them; the versions
    carry their category (frozen with them) for the period.
    """
    versions = [v for v in versions if v is not None]
    latest = dict(
        Recertification.objects.filter(version__in=[v.pk for v in versions])
        .values("version_id")
        .annotate(at=Max("at"))
        .values_list("version_id", "at")
    )
    categories = {
        c.pk: c.recertify_months
        for c in Category.objects.filter(pk__in={v.category_id for v in versions})
    }
    until = {}
    for version in versions:
        months = categories.get(version.category_id, 0)
        since = max(
            filter(None, [version.decided_at, latest.get(version.pk)]), default=None
        )
        until[version.pk] = months_add(since, months) if months and since else None
    return until


def versions_expiring(now: datetime | None = None, *, days: int = DUE_SOON_DAYS):
    """Return (version, certified until) for versions in force expiring by now+days.

    Soonest (most expired) first; each version carries its author, its owner.
    Three queries, whatever the number of templates.
    """
    now = now or timezone.now()
    in_force = list(
        TemplateVersion.objects.filter(
            status=Status.APPROVED,
            category__recertify_months__gt=0,
            effective_from__lte=now,
        )
        .filter(Q(effective_until__isnull=True) | Q(effective_until__gt=now))
        .select_related("template", "category", "author")
    )
    until = certified_until(in_force)
    horizon = now + timedelta(days=days)
    return sorted(
        (
            (version, until[version.pk])
            for version in in_force
            if until[version.pk] is not None and until[version.pk] <= horizon
        ),
        key=lambda row: (row[1], row[0].pk),
    )


def recertifications_due_for(
    user: AbstractBaseUser, now: datetime | None = None
) -> list[tuple[TemplateVersion, datetime, str]]:
    """Return the versions in force the user may re-certify that expired or
    expire soon: (version, certified until, "expired" or "due"), soonest
    first. In categories the user reviews, not written or edited by them."""
    if not user.is_active:
        return []
    now = now or timezone.now()
    categories = set(selectors.category_ids_for(user, selectors.REVIEW))
    return [
        (version, until, certification_label(until, now))
        for version, until in versions_expiring(now)
        if version.template.category_id in categories
        and user.pk not in selectors.version_editors(version)
    ]


def certification_label(until: datetime | None, now: datetime | None = None) -> str:
    """Return "expired", "due" (within DUE_SOON_DAYS), "valid" or "" (no period)."""
    if until is None:
        return ""
    now = now or timezone.now()
    if until <= now:
        return "expired"
    if until <= now + timedelta(days=DUE_SOON_DAYS):
        return "due"
    return "valid"


def version_recertify(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> Recertification:
    """Confirm an approved version unchanged for another period, audited.

    The reviewer must be allowed to review the category and must not have
    written the version; its content hash must still match what was approved.
    """
    with transaction.atomic():
        version = (
            TemplateVersion.objects.select_for_update(of=("self",))
            .select_related("template", "category")
            .get(pk=version.pk)
        )
        if not (
            actor.is_active
            and selectors.user_may(actor, selectors.REVIEW, version.template.category)
        ):
            raise WorkflowRefused(
                _("%(user)s may not re-certify versions in %(category)s.")
                % {"user": actor, "category": version.template.category},
                rule="permission",
            )
        if version.status != Status.APPROVED:
            raise WorkflowRefused(
                _("Only an approved version can be re-certified; %(version)s is not.")
                % {"version": version},
                rule="state",
            )
        if actor.pk in selectors.version_editors(version):
            raise WorkflowRefused(
                _(
                    "Segregation of duties: %(user)s wrote this version and may "
                    "not re-certify it."
                )
                % {"user": actor},
                rule="segregation",
            )
        if not version_hash_ok(version):
            raise WorkflowRefused(
                _("The content of %(version)s no longer matches its hash.")
                % {"version": version},
                rule="integrity",
            )
        before = certified_until([version])[version.pk]
        recertification = Recertification.objects.create(
            version=version,
            reviewer=actor,
            comment=(comment or "").strip(),
            content_hash=version.content_hash,
        )
        after = certified_until([version])[version.pk]
        event_record(
            action="templates.version.recertified",
            actor=actor,
            subject=version,
            before={"certified_until": before.isoformat() if before else None},
            after={
                "certified_until": after.isoformat() if after else None,
                "content_hash": version.content_hash,
            },
            reason=recertification.comment,
        )
    return recertification
