"""One status change of a reviewed version: check, stamp, log, signal.

The workflow services (`templates_app.workflow`) and the scheduled
supersession call these for template and block versions alike; nothing else
changes a status.
"""

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction

from audit.services import event_record
from templates_app import problems, signals
from templates_app.errors import WorkflowRefused
from templates_app.models import TRANSITIONS, WorkflowVersion


def state_check(subject: WorkflowVersion, target: str) -> None:
    """Refuse unless the declared transitions allow `subject` to reach `target`."""
    if target in TRANSITIONS[subject.status]:
        return
    raise WorkflowRefused(
        problems.STATE_REFUSED(
            subject=subject,
            verb=target,
            status=subject.status,
            allowed=sorted(TRANSITIONS[subject.status]),
        ),
        rule="state",
    )


def transition_record(
    subject: WorkflowVersion,
    *,
    target: str,
    actor: AbstractBaseUser | None,
    action: str,
    comment: str = "",
    fields: Iterable[str] = (),
    after: dict | None = None,
) -> None:
    """Save `subject` in `target` with its history reason, audit event and signal."""
    before = subject.status
    subject.status = target
    subject.transition_allow(target)
    subject._change_reason = (
        f"{before} → {target}: {comment}" if comment else f"{before} → {target}"
    )[:100]
    subject._history_user = actor
    subject.save(update_fields=["status", "updated", *fields])
    event_record(
        action=action,
        actor=actor,
        subject=subject,
        before={"status": before},
        after={"status": target, "content_hash": subject.content_hash, **(after or {})},
        reason=comment,
    )
    signal = signals.BY_STATUS[target]
    transaction.on_commit(
        lambda: signal.send(sender=type(subject), version=subject, actor=actor)
    )
