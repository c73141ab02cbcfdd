"""Which version is in force: effective ranges, supersession and expiry."""

from datetime import datetime

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from templates_app.errors import WorkflowRefused
from templates_app.models import ContentBlockVersion, Status, TemplateVersion
from templates_app.transitions import transition_record


def schedule_resolve(version: TemplateVersion, now: datetime) -> list[TemplateVersion]:
    """Fix the version's effective range and close the one it follows.

    Return the earlier versions whose range ended now, to be superseded. A
    later-starting approved version is never shortened: that would silently
    change a decision already taken, so the approval is refused instead.
    """
    start = max(version.effective_from or now, now)
    until = version.effective_until
    if until is not None and until <= start:
        raise WorkflowRefused(
            _(
                "The version would end (%(until)s) before it takes effect "
                "(%(start)s); the author must set a new schedule."
            )
            % {"until": until.isoformat(), "start": start.isoformat()},
            rule="schedule",
        )
    version.effective_from = start
    ended = []
    others = (
        TemplateVersion.objects.select_for_update()
        .filter(template_id=version.template_id, status=Status.APPROVED)
        .exclude(pk=version.pk)
        .order_by("effective_from")
    )
    for other in others:
        overlaps = (
            other.effective_until is None or other.effective_until > start
        ) and (until is None or other.effective_from < until)
        if not overlaps:
            continue
        if other.effective_from >= start:
            raise WorkflowRefused(
                _(
                    "At most one version may be in force at a time: "
                    "%(other)s takes effect at %(at)s, within this version's "
                    "period; retire it first or end this version before then."
                )
                % {"other": other, "at": other.effective_from.isoformat()},
                rule="in-force",
            )
        other.effective_until = start
        other._change_reason = _("Ends when v%(number)s takes effect") % {
            "number": version.number
        }
        other.save(update_fields=["effective_until", "updated"])
        if start <= now:
            ended.append(other)
    return ended


def blocks_supersede_older(
    block_version: ContentBlockVersion, *, actor: AbstractBaseUser
) -> None:
    """Supersede the block's earlier approved versions by the one just approved.

    Templates already approved keep rendering with the block versions they pin.
    """
    older = ContentBlockVersion.objects.select_for_update().filter(
        block_id=block_version.block_id,
        status=Status.APPROVED,
        number__lt=block_version.number,
    )
    for previous in older:
        transition_record(
            previous,
            target=Status.SUPERSEDED,
            actor=actor,
            action="templates.block.superseded",
            comment=_("Superseded by v%(number)s") % {"number": block_version.number},
        )


def versions_supersede_due(now: datetime | None = None) -> int:
    """Close approved versions whose effective period has ended; return how many.

    A version followed by another that starts when it ends is superseded; one
    that simply expired is retired. Idempotent: run it as often as you like.
    """
    now = now or timezone.now()
    closed = 0
    due = TemplateVersion.objects.filter(
        status=Status.APPROVED, effective_until__lte=now
    ).values_list("pk", flat=True)
    for pk in due:
        with transaction.atomic():
            version = (
                TemplateVersion.objects.select_for_update(of=("self",))
                .filter(pk=pk, status=Status.APPROVED)
                .first()
            )
            if version is None:
                continue
            successor = (
                TemplateVersion.objects.filter(
                    template_id=version.template_id,
                    effective_from=version.effective_until,
                    status__in=(Status.APPROVED, Status.SUPERSEDED, Status.RETIRED),
                )
                .exclude(pk=version.pk)
                .first()
            )
            if successor is not None:
                transition_record(
                    version,
                    target=Status.SUPERSEDED,
                    actor=None,
                    action="templates.version.superseded",
                    comment=_("Superseded by v%(number)s")
                    % {"number": successor.number},
                )
            else:
                transition_record(
                    version,
                    target=Status.RETIRED,
                    actor=None,
                    action="templates.version.retired",
                    comment=_("Its effective period ended"),
                )
            closed += 1
    return closed


# --- Content block workflow ---------------------------------------------------
