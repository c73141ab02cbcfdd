"""One review workflow for template versions and content block versions.

Guard → stamp → log → signal. Each service locks the row, checks its state and
who may act, records the change with its audit event and signal
(`transitions.transition_record`) and emails on commit. The admin asks the
same guards (`refusal`) which buttons to show. What differs between the two
kinds — who authors and reviews them, what submission freezes and hashes,
what an approval supersedes — is a small `Kind` adapter per model.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from templates_app import permissions, problems, selectors
from templates_app.errors import AuthoringError, WorkflowRefused
from templates_app.kinds import VERSIONS, Kind, kind_of
from templates_app.models import (
    Approval,
    ContentBlockVersion,
    Status,
    TemplateVersion,
    WorkflowVersion,
)
from templates_app.notifications import notify
from templates_app.transitions import state_check, transition_record

VERBS = ("submit", "withdraw", "approve", "reject", "retire")


# --- Guards: the services apply them, the admin asks them ---------------------


def _approve_guard(kind: Kind, subject, actor: AbstractBaseUser) -> list[Approval]:
    """Refuse an approval the actor may not give; return the approvals so far."""
    state_check(subject, Status.APPROVED)
    kind.review_check(actor, subject)
    permissions.segregation_check(
        actor, subject, kind.editors(subject), kind.lineage(subject)
    )
    approvals = list(selectors.approvals_current(subject))
    if any(approval.reviewer_id == actor.pk for approval in approvals):
        raise WorkflowRefused(
            problems.APPROVED_ALREADY_BY(user=actor, version=subject),
            rule="distinct-approvals",
        )
    return approvals


def _guard(kind: Kind, subject, verb: str, actor: AbstractBaseUser) -> None:
    if verb == "submit":
        kind.author_check(actor, subject)
        state_check(subject, Status.IN_REVIEW)
    elif verb == "withdraw":
        kind.author_check(actor, subject)
        state_check(subject, Status.DRAFT)
    elif verb == "approve":
        _approve_guard(kind, subject, actor)
    elif verb == "reject":
        state_check(subject, Status.REJECTED)
        kind.review_check(actor, subject)
    elif verb == "retire":
        state_check(subject, Status.RETIRED)
        kind.review_check(actor, subject)
    else:
        raise ValueError(verb)


def refusal(subject: WorkflowVersion, verb: str, actor: AbstractBaseUser):
    """Return why `actor` may not `verb` the version now, or None if they may.

    The state, permission and segregation rules only: content checks (valid,
    hash intact, blocks approved) are answered when the action is taken.
    """
    try:
        _guard(kind_of(subject), subject, verb, actor)
    except AuthoringError as refused:
        return refused
    return None


# --- Notifications ------------------------------------------------------------


def _reviewers_notify(kind: Kind, subject, actor: AbstractBaseUser) -> None:
    reviewers = kind.reviewers(subject).exclude(
        pk__in=kind.editors(subject) | set(kind.lineage(subject))
    )
    category = kind.category(subject)
    link = kind.review_link(subject)

    def compose() -> tuple[str, str]:
        return (
            _("Review requested: %(version)s") % {"version": subject},
            _(
                "%(user)s submitted %(version)s in %(category)s for review.\n\n"
                "Review it at %(path)s"
            )
            % {
                "user": actor,
                "version": subject,
                "category": category or _("content blocks"),
                "path": link,
            },
        )

    notify(recipients=reviewers, compose=compose)


def _author_notify(kind: Kind, subject, *, approved: bool, comment: str) -> None:
    link = kind.change_link(subject)

    def compose() -> tuple[str, str]:
        decision = _("approved") if approved else _("rejected")
        return (
            _("%(version)s was %(decision)s")
            % {"version": subject, "decision": decision},
            _("%(version)s was %(decision)s.\n\nComment: %(comment)s\n\n%(path)s")
            % {
                "version": subject,
                "decision": decision,
                "comment": comment or "-",
                "path": link,
            },
        )

    notify(recipients=[subject.author], compose=compose)


# --- The services ---------------------------------------------------------------


def submit(subject, *, actor: AbstractBaseUser, comment: str = ""):
    """Freeze a valid draft and ask its reviewers to review it."""
    kind = kind_of(subject)
    with transaction.atomic():
        subject = kind.lock(subject)
        _guard(kind, subject, "submit", actor)
        fields = kind.freeze(subject, actor)
        subject.submitted_at = timezone.now()
        transition_record(
            subject,
            target=Status.IN_REVIEW,
            actor=actor,
            action=f"{kind.action}.submitted",
            comment=comment,
            fields=[*fields, "submitted_at"],
        )
        _reviewers_notify(kind, subject, actor)
    return subject


def withdraw(subject, *, actor: AbstractBaseUser, comment: str = ""):
    """Take a version back from review into draft; its approvals so far lapse."""
    kind = kind_of(subject)
    with transaction.atomic():
        subject = kind.lock(subject)
        _guard(kind, subject, "withdraw", actor)
        transition_record(
            subject,
            target=Status.DRAFT,
            actor=actor,
            action=f"{kind.action}.withdrawn",
            comment=comment,
        )
    return subject


def approve(subject, *, actor: AbstractBaseUser, comment: str = ""):
    """Record an approval; approve the version once its category's quorum is met.

    Refused, naming the rule, when the actor may not review it, wrote or
    edited it, already approved it, or when the content (or a pinned block) no
    longer matches its hash.
    """
    kind = kind_of(subject)
    with transaction.atomic():
        subject = kind.lock(subject)
        approvals = _approve_guard(kind, subject, actor)
        mismatches = kind.hash_mismatches(subject)
        if mismatches:
            raise WorkflowRefused(
                problems.HASH_MISMATCH(problems="; ".join(mismatches)),
                rule="hash",
            )
        kind.approve_guard(subject)
        now = timezone.now()
        Approval.objects.create(
            **{"version" if kind is VERSIONS else "block_version": subject},
            reviewer=actor,
            comment=comment,
            content_hash=subject.content_hash,
            at=now,
        )
        given = len(approvals) + 1
        required = kind.required_approvals(subject)
        if given < required:
            event_record(
                action=f"{kind.action}.approval_recorded",
                actor=actor,
                subject=subject,
                before={"approvals": given - 1},
                after={"approvals": given, "required": required},
                reason=comment,
            )
            return subject
        fields, after, finish = kind.approval_effects(subject, actor, now)
        subject.decided_at = now
        transition_record(
            subject,
            target=Status.APPROVED,
            actor=actor,
            action=f"{kind.action}.approved",
            comment=comment,
            fields=[*fields, "decided_at"],
            after={**after, "approvals": given},
        )
        finish()
        _author_notify(kind, subject, approved=True, comment=comment)
    return subject


def _reason_required(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise WorkflowRefused(problems.REJECTION_REASON_REQUIRED(), rule="reason")
    return comment


def reject(subject, *, actor: AbstractBaseUser, comment: str):
    """Send a version back with the reviewer's reason; the author starts anew."""
    kind = kind_of(subject)
    with transaction.atomic():
        subject = kind.lock(subject)
        _guard(kind, subject, "reject", actor)
        comment = _reason_required(comment)
        subject.rejection_reason = comment
        subject.decided_at = timezone.now()
        transition_record(
            subject,
            target=Status.REJECTED,
            actor=actor,
            action=f"{kind.action}.rejected",
            comment=comment,
            fields=["rejection_reason", "decided_at"],
        )
        _author_notify(kind, subject, approved=False, comment=comment)
    return subject


def retire(subject, *, actor: AbstractBaseUser, comment: str = ""):
    """Take an approved version out of use now (or cancel its future start)."""
    kind = kind_of(subject)
    with transaction.atomic():
        subject = kind.lock(subject)
        _guard(kind, subject, "retire", actor)
        fields, after = kind.retire_effects(subject, timezone.now())
        transition_record(
            subject,
            target=Status.RETIRED,
            actor=actor,
            action=f"{kind.action}.retired",
            comment=comment,
            fields=fields,
            after=after,
        )
    return subject


SERVICES = {
    "submit": submit,
    "withdraw": withdraw,
    "approve": approve,
    "reject": reject,
    "retire": retire,
}


# --- The public names other apps call -------------------------------------------


def version_submit(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Freeze a valid draft and send it to the category's reviewers."""
    return submit(version, actor=actor, comment=comment)


def version_withdraw(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Take a version back from review into draft; its approvals so far lapse."""
    return withdraw(version, actor=actor, comment=comment)


def version_approve(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Record an approval; approve the version once the category's quorum is met."""
    return approve(version, actor=actor, comment=comment)


def version_reject(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str
) -> TemplateVersion:
    """Send a version back with the reviewer's reason; the author starts anew."""
    return reject(version, actor=actor, comment=comment)


def version_retire(
    *, version: TemplateVersion, actor: AbstractBaseUser, comment: str = ""
) -> TemplateVersion:
    """Take an approved version out of force now (or cancel its future start)."""
    return retire(version, actor=actor, comment=comment)


def block_submit(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Freeze a block draft and send it to the block reviewers."""
    return submit(block_version, actor=actor, comment=comment)


def block_withdraw(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Take a block version back from review into draft."""
    return withdraw(block_version, actor=actor, comment=comment)


def block_approve(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Record an approval; approve the block version once its quorum is met.

    The approved one before it is superseded; templates already approved keep
    rendering with the block versions they pin.
    """
    return approve(block_version, actor=actor, comment=comment)


def block_reject(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str
) -> ContentBlockVersion:
    """Send a block version back with the reviewer's reason."""
    return reject(block_version, actor=actor, comment=comment)


def block_retire(
    *, block_version: ContentBlockVersion, actor: AbstractBaseUser, comment: str = ""
) -> ContentBlockVersion:
    """Stop offering a block version to new drafts; pinned templates keep it."""
    return retire(block_version, actor=actor, comment=comment)
