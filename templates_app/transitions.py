"""One status change of a reviewed version: check, stamp, log, signal.

The workflow services (`templates_app.workflow`) and the scheduled
supersession call these for template and block versions alike; nothing else
changes a status.
"""

from collections.abc import Iterable

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app import signals
from templates_app.errors import WorkflowRefused
from templates_app.models import TRANSITIONS, Status, WorkflowVersion


def state_check(subject: WorkflowVersion, target: str, verb: str) -> None:
    """Refuse unless the declared transitions allow `subject` to reach `target`."""
    if target in TRANSITIONS[subject.status]:
        return
    allowed = ", ".join(
        str(Status(state).label) for state in sorted(TRANSITIONS[subject.status])
    )
    raise WorkflowRefused(
        _(
            "%(subject)s cannot be %(verb)s: it is %(status)s, and a version "
            "that is %(status)s may only become: %(allowed)s."
        )
        % {
            "subject": subject,
            "verb": verb,
            "status": subject.get_status_display(),
            "allowed": allowed or _("nothing (final)"),
        },
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
