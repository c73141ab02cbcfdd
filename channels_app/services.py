"""Operators' dispatch actions and delivery receipts; moves go through lifecycle."""

from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from channels_app import incidents
from channels_app.lifecycle import DispatchStateError, dispatch_locked, dispatch_move
from channels_app.models import ContentPart, Dispatch
from channels_app.tasks import outbox_kick
from customers.models import PreferenceEntry, Suppression
from customers.services import marketing_opt_out, suppression_add


def _reason_check(reason: str) -> None:
    if not reason.strip():
        raise DispatchStateError("a reason is required")


@transaction.atomic
def dispatch_retry(*, dispatch: Dispatch, actor: AbstractBaseUser, reason: str):
    """Queue a failed dispatch again (an operator's decision)."""
    _reason_check(reason)
    locked = dispatch_locked(dispatch)
    if locked.erased_parts & (ContentPart.COPY | ContentPart.CONTACT):
        raise DispatchStateError(
            f"dispatch #{locked.pk}'s content was erased; it cannot be sent again"
        )
    moved = dispatch_move(
        locked=locked,
        to=Dispatch.Status.QUEUED,
        actor=actor,
        reason=reason,
        action="channels.dispatch.retried",
        # A retry gets a fresh allowance of attempts.
        changes={
            "due_at": timezone.now(),
            "max_attempts": locked.attempt_count + 5,
        },
    )
    transaction.on_commit(partial(outbox_kick, [locked.channel]))
    return moved


@transaction.atomic
def dispatch_cancel(*, dispatch: Dispatch, actor: AbstractBaseUser, reason: str):
    """Cancel a dispatch that has not been sent yet."""
    _reason_check(reason)
    return dispatch_move(
        locked=dispatch_locked(dispatch),
        to=Dispatch.Status.CANCELLED,
        actor=actor,
        reason=reason,
        action="channels.dispatch.cancelled",
    )


RECEIPT_STATUSES = {
    "delivered": Dispatch.Status.DELIVERED,
    "bounced": Dispatch.Status.BOUNCED,
    "failed": Dispatch.Status.FAILED,
    "complaint": Dispatch.Status.COMPLAINED,
}


@transaction.atomic
def dispatch_receipt_record(
    *,
    dispatch: Dispatch,
    event: str,
    hard: bool = False,
    detail: str = "",
    provider: str,
) -> Dispatch:
    """Apply a provider's delivery receipt; a hard bounce suppresses the address.

    A complaint (the recipient reported the message as spam) marks the
    dispatch complained, which counts toward its template's complaint rate,
    and opts the customer out of marketing on the channel; service and
    mandatory messages still go. A receipt that repeats the current status is
    acknowledged and ignored, so providers may redeliver webhooks safely.
    """
    if event not in RECEIPT_STATUSES:
        raise DispatchStateError(
            f"unknown receipt event {event!r}: use {', '.join(RECEIPT_STATUSES)}"
        )
    to = RECEIPT_STATUSES[event]
    locked = dispatch_locked(dispatch)
    if locked.status == to:
        return locked
    dispatch_move(
        locked=locked,
        to=to,
        action=f"channels.dispatch.{event}",
        actor_label=provider,
        detail=f"{provider}: {detail}".strip(": "),
        changes={} if to == Dispatch.Status.DELIVERED else {"error": detail or event},
        after={"hard": hard, "detail": detail},
    )
    if event == "complaint":
        communication = locked.communication
        marketing_opt_out(
            customer=communication.customer,
            channel=locked.channel,
            source=PreferenceEntry.Source.COMPLAINT,
            note=f"spam complaint on dispatch #{locked.pk}",
            source_message=str(communication.public_id),
            actor_label=provider,
        )
    if event == "bounced":
        incidents.bounce_note(dispatch=locked)
    if event == "bounced" and hard:
        suppression_add(
            channel=locked.channel,
            address=locked.address,
            reason=Suppression.Reason.HARD_BOUNCE,
            detail=f"dispatch #{locked.pk}: {detail}",
        )
    return locked
