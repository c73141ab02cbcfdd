"""Pause switches: an operator holds a template, a category, a channel or a batch.

A paused dispatch keeps its status (queued) and its place in the queue: the
claim simply skips it. Resuming releases the held rows to the next claim, in
the order they fell due, and the central rules and consent are checked there
as for any other. The active pauses are a handful of rows, read once per claim.
"""

from dataclasses import dataclass, field
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from channels_app import problems
from channels_app.models import Batch, Channel, Dispatch, Pause
from templates_app.models import Category, Template

Scope = Pause.Scope


@dataclass(frozen=True)
class PauseSet:
    """The active pauses, by scope: what the claim must leave alone."""

    pauses: tuple[Pause, ...] = field(default_factory=tuple)

    def values(self, scope: str) -> set[str]:
        return {p.value for p in self.pauses if p.scope == scope}

    def __bool__(self) -> bool:
        return bool(self.pauses)

    def held(self) -> Q:
        """Return the condition a dispatch meets when one of these pauses holds it."""
        held = Q(pk__in=[])
        if templates := self.values(Scope.TEMPLATE):
            held |= Q(communication__template_code__in=sorted(templates))
        if categories := self.values(Scope.CATEGORY):
            held |= Q(communication__category__in=sorted(categories))
        if channels := self.values(Scope.CHANNEL):
            held |= Q(channel__in=sorted(channels))
        if batches := self.values(Scope.BATCH):
            held |= Q(communication__batch_id__in=sorted(int(b) for b in batches))
        return held

    def claimable(self, dispatches: QuerySet) -> QuerySet:
        """Return the dispatches no pause holds."""
        return dispatches.exclude(self.held()) if self else dispatches

    def holding(self, dispatch: Dispatch) -> Pause | None:
        """Return the pause that holds this dispatch, if any."""
        communication = dispatch.communication
        keys = {
            Scope.TEMPLATE: communication.template_code,
            Scope.CATEGORY: communication.category,
            Scope.CHANNEL: dispatch.channel,
            Scope.BATCH: str(communication.batch_id or ""),
        }
        for pause in self.pauses:
            if keys[pause.scope] == pause.value:
                return pause
        return None


def pauses_active() -> PauseSet:
    """Return the active pauses, read in one query."""
    return PauseSet(
        tuple(Pause.objects.filter(resumed_at__isnull=True).order_by("paused_at"))
    )


def hold_reason(dispatch: Dispatch, pauses: PauseSet | None = None) -> str:
    """Return why a queued dispatch is held by a pause, or an empty string."""
    if dispatch.status != Dispatch.Status.QUEUED:
        return ""
    pause = (pauses if pauses is not None else pauses_active()).holding(dispatch)
    if pause is None:
        return ""
    return _("Held: %(scope)s %(value)s paused by %(who)s: %(reason)s") % {
        "scope": pause.get_scope_display(),
        "value": pause.value,
        "who": pause.paused_by or _("the system"),
        "reason": pause.reason,
    }


def _value_check(scope: str, value: str) -> str:
    """Return the value normalised, or refuse one naming nothing that exists."""
    value = (value or "").strip()
    exists = {
        Scope.TEMPLATE: lambda: Template.objects.filter(code=value).exists(),
        Scope.CATEGORY: lambda: Category.objects.filter(code=value).exists(),
        Scope.CHANNEL: lambda: value in Channel.values,
        Scope.BATCH: lambda: (
            value.isdigit() and Batch.objects.filter(pk=value).exists()
        ),
    }
    if scope not in exists:
        raise problems.PAUSE_SCOPE_UNKNOWN(scope=scope).validation_error()
    if not value or not exists[scope]():
        raise problems.PAUSE_NOTHING(scope=scope, value=value).validation_error()
    return value


def _kick(channels: list[str]) -> None:
    # Imported late: the tasks import the outbox, which imports this module.
    from channels_app.tasks import outbox_kick

    outbox_kick(channels)


@transaction.atomic
def pause_start(
    *, scope: str, value: str, reason: str, actor: AbstractBaseUser | None
) -> Pause:
    """Pause a template, category, channel or batch: its due dispatches are held."""
    value = _value_check(scope, value)
    reason = (reason or "").strip()
    if not reason:
        raise problems.PAUSE_REASON_REQUIRED().validation_error()
    try:
        with transaction.atomic():
            pause = Pause.objects.create(
                scope=scope, value=value, reason=reason, paused_by=actor
            )
    except IntegrityError:
        raise problems.PAUSE_ALREADY(
            scope=scope, value=value
        ).validation_error() from None
    event_record(
        action="channels.pause.started",
        actor=actor,
        subject=pause,
        after={"scope": scope, "value": value},
        reason=reason,
    )
    return pause


@transaction.atomic
def pause_resume(
    *, pause: Pause, actor: AbstractBaseUser | None, reason: str = ""
) -> Pause:
    """Resume a pause: its held dispatches go to the next claims, oldest due first."""
    pause = Pause.objects.select_for_update().get(pk=pause.pk)
    if not pause.active:
        raise problems.PAUSE_RESUMED_ALREADY(
            scope=pause.scope, value=pause.value
        ).validation_error()
    pause.resumed_at = timezone.now()
    pause.resumed_by = actor
    pause.resume_reason = (reason or "").strip()
    pause.save(update_fields=["resumed_at", "resumed_by", "resume_reason"])
    event_record(
        action="channels.pause.resumed",
        actor=actor,
        subject=pause,
        before={"scope": pause.scope, "value": pause.value},
        after={
            "held_for_seconds": int(
                (pause.resumed_at - pause.paused_at).total_seconds()
            )
        },
        reason=pause.resume_reason,
    )
    channels = [pause.value] if pause.scope == Scope.CHANNEL else list(Channel.values)
    transaction.on_commit(partial(_kick, channels))
    return pause


def held_counts(pauses: PauseSet | None = None) -> dict[int, int]:
    """Return how many queued dispatches each active pause holds now.

    Queued rows only (the partial index on queued rows serves it); the pause
    set is a handful of rows.
    """
    pauses = pauses if pauses is not None else pauses_active()
    queued = Dispatch.objects.filter(status=Dispatch.Status.QUEUED)
    return {
        pause.pk: queued.filter(PauseSet((pause,)).held()).count()
        for pause in pauses.pauses
    }
