"""Every write of the contact-center console: one function per action, audited.

Each action needs a reason, runs in one transaction and records its audit
event as the last database step (the audit chain lock is held until commit).
"""

import hashlib
from collections.abc import Mapping
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import AuditEntry, event_record
from ccm.problems import DomainError
from channels_app import incidents, lifecycle
from channels_app.dispatching import AUTO, communication_trigger
from channels_app.models import (
    Communication,
    Dispatch,
    Escalation,
    IdempotencyRecord,
    Incident,
)
from channels_app.tasks import outbox_kick
from console import problems
from console.models import Feedback
from customers import reasons
from customers.consent import consent_decide
from customers.models import Customer, PreferenceEntry
from customers.services import preference_set
from templates_app.models import Category

CONTACT_CENTER = "contact-center"

# A resend of something not yet out, or of nothing rendered, makes no sense.
NOT_RESENDABLE = {Dispatch.Status.QUEUED, Dispatch.Status.SENDING}


class ConsoleActionRefused(DomainError):
    """An agent's action cannot be carried out; the problem says why."""


def _requires_opt_in(category: str) -> bool:
    """Return whether a category is sent only to customers who opted in."""
    return Category.objects.filter(code=category, kind=Category.Kind.MARKETING).exists()


def _form_once(*, actor: AbstractBaseUser, action: str, once: str) -> None:
    """Refuse a form the agent already sent; its token is kept with the action.

    The token's row is unique per user: a second request with it waits for
    the first's transaction, then fails on the constraint.
    """
    try:
        with transaction.atomic():
            IdempotencyRecord.objects.create(
                client=actor,
                key=f"console:{once}",
                request_sha256=hashlib.sha256(action.encode()).hexdigest(),
            )
    except IntegrityError:
        raise ConsoleActionRefused(problems.FORM_SENT_TWICE()) from None


def _reason_required(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        raise ConsoleActionRefused(problems.REASON_REQUIRED())
    return reason


def customer_viewed(*, customer: Customer, actor: AbstractBaseUser, page: int) -> None:
    """Record that an agent looked at a customer's communications."""
    event_record(
        action="console.customer.viewed",
        actor=actor,
        subject=customer,
        after={"page": page},
    )


def dispatch_viewed(
    *, dispatch: Dispatch, actor: AbstractBaseUser, part: str = ""
) -> None:
    """Record that an agent opened the exact copy of a dispatch.

    `part` names what was opened when it is not the dispatch's page: "letter"
    (the stored PDF inline), "letter download", "reissue form" (its data).
    """
    after = {"customer": dispatch.communication.customer.external_id}
    if part:
        after["part"] = part
    event_record(
        action="console.dispatch.viewed", actor=actor, subject=dispatch, after=after
    )


def contact_unmask(
    *, customer: Customer, actor: AbstractBaseUser, reason: str = ""
) -> None:
    """Record that an agent unmasked a customer's contact data."""
    if not actor.has_perm("console.unmask_contact"):
        raise ConsoleActionRefused(problems.UNMASK_FORBIDDEN())
    event_record(
        action="console.contact.unmasked",
        actor=actor,
        subject=customer,
        after={"external_id": customer.external_id},
        reason=reason.strip(),
    )


@transaction.atomic
def dispatch_resend(
    *, dispatch: Dispatch, actor: AbstractBaseUser, reason: str, once: str = ""
) -> Dispatch:
    """Send the archived copy of a dispatch again, as a new dispatch linked to it.

    The new dispatch carries exactly the stored copy (subject, HTML, text,
    letter PDF and their SHA-256) to the customer's current contact point on
    the same channel, if the customer's consent allows that category there now
    (a hard suppression always refuses). The original's row is locked, so a
    second click, or a second agent, finds the first resend still on its way
    and is refused rather than sending the copy twice. `once`, the token of the
    form the agent sent, refuses that form sent again even after the first
    copy went out.
    """
    reason = _reason_required(reason)
    original = (
        Dispatch.objects.select_for_update(of=("self",))
        .select_related("communication__customer")
        .get(pk=dispatch.pk)
    )
    if once:
        _form_once(actor=actor, action=f"resend:{original.pk}", once=once)
    pending = original.resends.filter(status__in=NOT_RESENDABLE).first()
    if pending is not None:
        raise ConsoleActionRefused(
            problems.RESEND_PENDING(
                id=original.pk, resend=pending.pk, status=pending.status
            )
        )
    if original.status in NOT_RESENDABLE:
        raise ConsoleActionRefused(
            problems.RESEND_NOT_SENT(id=original.pk, status=original.status)
        )
    if not original.content_sha256:
        raise ConsoleActionRefused(
            problems.RESEND_NEVER_RENDERED(
                id=original.pk, decision=original.decision or original.status
            )
        )
    customer = original.communication.customer
    address = customer.address_for(original.channel)
    if not address:
        raise ConsoleActionRefused(
            problems.RESEND_NO_CONTACT_POINT(channel=original.channel)
        )
    communication = original.communication
    consent = consent_decide(
        customer=customer,
        channel=original.channel,
        category=communication.category,
        scope=communication.scope,
        mandatory=communication.mandatory,
        requires_opt_in=_requires_opt_in(communication.category),
    )
    if not consent.allowed:
        # The reason names the address; the view masks it for the agent.
        raise ConsoleActionRefused(problems.RESEND_CONSENT(why=consent.reason))
    now = timezone.now()
    resend = Dispatch(
        communication=original.communication,
        channel=original.channel,
        language=original.language,
        address=address,
        due_at=now,
        subject=original.subject,
        body_html=original.body_html,
        body_text=original.body_text,
        # The stored PDF file is shared: the copy is the archived one, unchanged.
        letter_pdf=original.letter_pdf.name,
        content_sha256=original.content_sha256,
        block_versions=original.block_versions,
        decision=reasons.RESENT.text(
            original=original.pk, agent=actor.get_username(), reason=reason
        ),
        resend_of=original,
    )

    def events() -> list[AuditEntry]:
        # Built once the resend has its key.
        return [
            AuditEntry(
                action="channels.dispatch.resent",
                actor=actor,
                subject=original,
                after={"resend": resend.pk, "address": address},
                reason=reason,
            ),
            AuditEntry(
                action="channels.dispatch.queued",
                actor=actor,
                subject=resend,
                after={
                    "communication": str(original.communication.public_id),
                    "resend_of": original.pk,
                    "channel": resend.channel,
                    "address": address,
                    "language": resend.language,
                    "content_sha256": resend.content_sha256,
                    "due_at": now.isoformat(),
                    "source": CONTACT_CENTER,
                },
                reason=reason,
            ),
        ]

    lifecycle.dispatches_open(
        openings=[(resend, Dispatch.Status.QUEUED)], events=events, now=now
    )
    transaction.on_commit(partial(outbox_kick, [resend.channel]))
    return resend


@transaction.atomic
def communication_reissue(
    *,
    communication: Communication,
    data: Mapping,
    actor: AbstractBaseUser,
    reason: str,
) -> Communication:
    """Send corrected data as a new communication, rendered from the version now
    in force and linked to the original.

    Bad data raises `channels_app.dispatching.TriggerRefused` naming each
    problem; nothing is stored then. The original's row is locked, so the same
    correction sent twice (a second click) is refused, not sent twice.
    """
    reason = _reason_required(reason)
    communication = Communication.objects.select_for_update().get(pk=communication.pk)
    # A reissue that consent or a rule stopped before rendering may be tried
    # again once that changed (it cannot be resent: nothing was rendered).
    rendered = communication.reissues.filter(dispatches__content_sha256__gt="")
    for earlier in rendered.distinct().only("public_id", "data"):
        if earlier.data == dict(data):
            raise ConsoleActionRefused(problems.REISSUE_DONE(id=earlier.public_id))
    rendered_channels = list(
        dict.fromkeys(
            communication.dispatches.exclude(content_sha256="")
            .order_by("pk")
            .values_list("channel", flat=True)
        )
    )
    reissue = communication_trigger(
        template_code=communication.template_code,
        customer=communication.customer,
        data=dict(data),
        channels=rendered_channels or AUTO,
        requester_label=actor.get_username(),
        requested_by=actor,
        source_system=CONTACT_CENTER,
        source_reference=f"reissue of {communication.public_id}",
        scope=communication.scope,
        reissue_of=communication,
        reason=reason,
        correlation_key=communication.correlation_key,
    )
    event_record(
        action="console.communication.reissued",
        actor=actor,
        subject=communication,
        after={
            "reissue": str(reissue.public_id),
            "version": reissue.template_version.number,
            "dispatches": list(reissue.dispatches.values_list("pk", flat=True)),
        },
        reason=reason,
    )
    return reissue


@transaction.atomic
def preference_change(
    *,
    customer: Customer,
    channel: str,
    opted_in: bool,
    category: str,
    scope: str,
    legal_basis: str,
    actor: AbstractBaseUser,
    reason: str,
) -> PreferenceEntry:
    """Record a preference the customer gave the contact center, in the ledger."""
    reason = _reason_required(reason)
    return preference_set(
        customer=customer,
        channel=channel,
        opted_in=opted_in,
        category=category,
        scope=scope,
        source=PreferenceEntry.Source.CONTACT_CENTER,
        legal_basis=legal_basis,
        actor=actor,
        note=reason,
    )


@transaction.atomic
def feedback_record(
    *,
    dispatch: Dispatch,
    kind: str,
    severity: str,
    text: str,
    actor: AbstractBaseUser,
) -> Feedback:
    """Record what the customer said about a dispatch and escalate it to operations."""
    text = text.strip()
    if not text:
        raise ConsoleActionRefused(problems.FEEDBACK_TEXT_REQUIRED())
    # Locked, so the same words sent twice (a second click) open one escalation.
    dispatch = Dispatch.objects.select_for_update().get(pk=dispatch.pk)
    recorded = dispatch.feedback.filter(
        agent=actor, kind=kind, text=text, escalation__status=Escalation.Status.OPEN
    ).first()
    if recorded is not None:
        raise ConsoleActionRefused(
            problems.FEEDBACK_RECORDED(id=recorded.escalation_id)
        )
    escalation = lifecycle.escalation_open(
        dispatch=dispatch,
        severity=severity,
        reason=f"{kind} via contact center ({actor.get_username()}): {text}",
    )
    communication = dispatch.communication
    feedback = Feedback(
        dispatch=dispatch,
        # Copied for the dashboard's figures (no join to the dispatches).
        channel=dispatch.channel,
        category=communication.category,
        template_code=communication.template_code,
        kind=kind,
        severity=severity,
        text=text,
        agent=actor,
        escalation=escalation,
    )
    feedback.full_clean()
    feedback.save()
    if kind == Feedback.Kind.COMPLAINT:
        # A complaint about a message opens, or joins, its template's incident.
        template_code = communication.template_code
        incidents.incident_raise(
            kind=Incident.Kind.COMPLAINTS,
            key=f"complaints:{template_code}",
            severity=severity,
            title=f"Complaints about {template_code}",
            template_code=template_code,
            dispatch_ids=[dispatch.pk],
        )
    event_record(
        action="console.feedback.recorded",
        actor=actor,
        subject=dispatch,
        after={
            "feedback": feedback.pk,
            "kind": kind,
            "severity": severity,
            "escalation": escalation.pk,
        },
        reason=text,
    )
    return feedback


def evidence_exported(
    *, actor: AbstractBaseUser, subject, scope: dict, sha256: str, fmt: str
) -> None:
    """Record that an evidence pack left the system, and its fingerprint."""
    event_record(
        action="console.evidence.exported",
        actor=actor,
        subject=subject,
        after={**scope, "format": fmt, "sha256": sha256},
    )
