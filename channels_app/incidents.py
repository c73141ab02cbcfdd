"""Incidents by severity: opened or joined by the errors they group, owned,
acknowledged and resolved by operations, every change audited.

A severity's policy (set by operators in the admin) gives each incident its
deadline and owner group, and who is told when it opens: the owner group's
members by email, and for a critical incident also the on-call list. Joining
an open incident tells nobody again: a storm of failures is one message.
"""

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import event_record
from channels_app import problems
from channels_app.models import (
    Batch,
    Channel,
    Dispatch,
    DispatchRollup,
    Incident,
    Severity,
    SeverityPolicy,
)
from channels_app.pauses import pauses_active
from channels_app.rollups import hour_start

# Until an operator sets a policy in the admin.
DEFAULT_DEADLINES = {
    Severity.CRITICAL: timedelta(hours=1),
    Severity.HIGH: timedelta(hours=4),
    Severity.MEDIUM: timedelta(days=1),
    Severity.LOW: timedelta(days=3),
}
RANK = {Severity.LOW: 0, Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}
Kind, Status = Incident.Kind, Incident.Status


def deadline_for(severity: str) -> timedelta:
    """Return how long an incident or escalation of this severity may stay open."""
    return deadlines_all()[severity]


def deadlines_all() -> dict[str, timedelta]:
    """Return every severity's deadline, read in one query."""
    set_by_operators = {
        severity: timedelta(minutes=minutes)
        for severity, minutes in SeverityPolicy.objects.values_list(
            "severity", "deadline_minutes"
        )
    }
    return {**DEFAULT_DEADLINES, **set_by_operators}


def storm_threshold() -> int:
    """Return how many failures of one channel in one batch make a storm."""
    return getattr(settings, "INCIDENT_STORM_THRESHOLD", 20)


def _recipients(incident: Incident) -> list[str]:
    policy = SeverityPolicy.objects.filter(severity=incident.severity).first()
    addresses: list[str] = []
    if policy is None or policy.notify:
        group = incident.owner_group
        if group is not None:
            addresses += [
                u.email for u in group.user_set.filter(is_active=True) if u.email
            ]
    if policy is not None and incident.severity == Severity.CRITICAL:
        addresses += [a.strip() for a in policy.on_call.splitlines() if a.strip()]
    return sorted(set(addresses))


def _notify(incident_id: int) -> None:
    """Email the owners of a new incident once."""
    incident = Incident.objects.select_related("owner_group").get(pk=incident_id)
    recipients = _recipients(incident)
    if not recipients or incident.notified:
        return
    send_mail(
        subject=f"[{incident.get_severity_display()}] {incident.title}",
        message=(
            f"Incident #{incident.pk}: {incident.title}\n"
            f"Kind: {incident.get_kind_display()}\n"
            f"Deadline: {incident.deadline:%Y-%m-%d %H:%M %Z}\n"
        ),
        from_email=None,
        recipient_list=recipients,
        fail_silently=True,
    )
    Incident.objects.filter(pk=incident.pk).update(notified=timezone.now())


def incident_raise(
    *,
    kind: str,
    key: str,
    severity: str,
    title: str,
    template_code: str = "",
    batch: Batch | None = None,
    dispatch_ids: Iterable[int] = (),
    occurrences: int = 1,
) -> tuple[Incident, bool]:
    """Open an incident, or join the one open for the same key; return it and
    whether it is new. A join raises the severity if this one is higher."""
    dispatch_ids = list(dispatch_ids)
    with transaction.atomic():
        incident = (
            Incident.objects.select_for_update()
            .exclude(status=Status.RESOLVED)
            .filter(key=key)
            .first()
        )
        created = incident is None
        if created:
            policy = SeverityPolicy.objects.filter(severity=severity).first()
            now = timezone.now()
            try:
                with transaction.atomic():
                    incident = Incident.objects.create(
                        kind=kind,
                        key=key,
                        severity=severity,
                        title=title[:300],
                        template_code=template_code,
                        batch=batch,
                        occurrences=occurrences,
                        owner_group=policy.owner_group if policy else None,
                        opened=now,
                        deadline=now + deadline_for(severity),
                    )
            except IntegrityError:
                # Another worker opened it meanwhile: join that one.
                return incident_raise(
                    kind=kind,
                    key=key,
                    severity=severity,
                    title=title,
                    template_code=template_code,
                    batch=batch,
                    dispatch_ids=dispatch_ids,
                    occurrences=occurrences,
                )
            event_record(
                action="channels.incident.opened",
                subject=incident,
                after={"kind": kind, "severity": severity, "key": key},
                reason=title,
            )
            transaction.on_commit(partial(_notify, incident.pk))
        else:
            incident.occurrences += occurrences
            fields = ["occurrences"]
            if RANK[severity] > RANK[incident.severity]:
                event_record(
                    action="channels.incident.escalated",
                    subject=incident,
                    before={"severity": incident.severity},
                    after={"severity": severity},
                    reason=title,
                )
                incident.severity = severity
                incident.deadline = incident.opened + deadline_for(severity)
                fields += ["severity", "deadline"]
            incident.save(update_fields=fields)
        if dispatch_ids:
            incident.dispatches.add(*dispatch_ids)
    return incident, created


def failures_note(failures: Iterable[tuple[str, int]]) -> None:
    """Open or join a critical incident for each channel whose provider refused
    a storm of dispatches in one batch: (channel, dispatch id) per failure."""
    failures = list(failures)
    per_channel = Counter(channel for channel, _ in failures)
    for channel, count in per_channel.items():
        if count < storm_threshold():
            continue
        incident_raise(
            kind=Kind.PROVIDER_REFUSAL,
            key=f"provider_refusal:{channel}",
            severity=Severity.CRITICAL,
            title=f"The {channel} provider refused {count} dispatches in one batch",
            dispatch_ids=[pk for c, pk in failures if c == channel],
            occurrences=count,
        )


def bounce_threshold() -> int:
    """Return how many bounces of one template and channel in an hour make a storm."""
    return getattr(settings, "INCIDENT_BOUNCE_STORM", 50)


def bounce_note(*, dispatch: Dispatch) -> None:
    """Open or join a bounce-storm incident when this bounce makes its template
    and channel reach the threshold within the hour (read from the rollups)."""
    communication = dispatch.communication
    bounced = (
        DispatchRollup.objects.filter(
            span=DispatchRollup.Span.HOUR,
            start=hour_start(timezone.now()),
            channel=dispatch.channel,
            category=communication.category,
            template_code=communication.template_code,
            status=Dispatch.Status.BOUNCED,
        )
        .values_list("count", flat=True)
        .first()
    )
    if (bounced or 0) < bounce_threshold():
        return
    incident_raise(
        kind=Kind.BOUNCE_STORM,
        key=f"bounce_storm:{dispatch.channel}:{communication.template_code}",
        severity=Severity.HIGH,
        title=f"{communication.template_code} on {dispatch.channel}: "
        f"{bounced} bounces within the hour",
        template_code=communication.template_code,
        dispatch_ids=[dispatch.pk],
    )


@dataclass(frozen=True)
class RenderFailure:
    """An approved template that failed to render data its schema accepted.

    Only the kind of error and where it happened are kept: the error's text
    may quote the customer's data.
    """

    template_code: str
    error: str
    where: str


def render_failures_note(failures: Iterable[RenderFailure]) -> None:
    """Open or join a high incident per template that failed to render."""
    per_template: dict[str, list[RenderFailure]] = {}
    for failure in failures:
        per_template.setdefault(failure.template_code, []).append(failure)
    for template_code, found in per_template.items():
        first = found[0]
        incident_raise(
            kind=Kind.RENDER_FAILURE,
            key=f"render_failure:{template_code}",
            severity=Severity.HIGH,
            title=f"{template_code} failed to render"
            f" ({first.where or 'template'}: {first.error})",
            template_code=template_code,
            occurrences=len(found),
        )


def complaint_thresholds() -> tuple[int, float]:
    """Return the fewest complaints, and the complaints per 1,000 sent, within
    24 hours that make a template's complaints an incident."""
    return (
        getattr(settings, "INCIDENT_COMPLAINT_MIN", 3),
        getattr(settings, "INCIDENT_COMPLAINT_RATE_PER_1000", 3.0),
    )


def complaint_note(*, dispatch: Dispatch) -> None:
    """Open or join the template's complaints incident when mailbox providers'
    complaints about it in the last 24 hours (read from the hourly rollups)
    pass both thresholds: a count and a rate per 1,000 sent."""
    communication = dispatch.communication
    since = hour_start(timezone.now()) - timedelta(hours=23)
    counted = dict(
        DispatchRollup.objects.filter(
            span=DispatchRollup.Span.HOUR,
            start__gte=since,
            template_code=communication.template_code,
            status__in=[Dispatch.Status.SENT, Dispatch.Status.COMPLAINED],
        )
        .values_list("status")
        .annotate(total=Sum("count"))
    )
    complaints = counted.get(Dispatch.Status.COMPLAINED, 0)
    sent = counted.get(Dispatch.Status.SENT, 0)
    fewest, rate = complaint_thresholds()
    if complaints < fewest or complaints * 1000 < rate * max(sent, 1):
        return
    incident_raise(
        kind=Kind.COMPLAINTS,
        # The key console complaints use: both join one incident per template.
        key=f"complaints:{communication.template_code}",
        severity=Severity.HIGH,
        title=f"Complaints about {communication.template_code}: {complaints}"
        f" spam reports for {sent} sent within 24 hours",
        template_code=communication.template_code,
        dispatch_ids=[dispatch.pk],
    )


def stuck_minutes() -> int:
    """Return how long the oldest due dispatch of a channel may wait."""
    return getattr(settings, "INCIDENT_STUCK_QUEUE_MINUTES", 15)


def queues_watch() -> list[Incident]:
    """Open or join a critical incident for each channel whose oldest due
    dispatch (not held by a pause) has waited longer than `stuck_minutes`."""
    now = timezone.now()
    late = now - timedelta(minutes=stuck_minutes())
    pauses = pauses_active()
    raised = []
    for channel in Channel.values:
        due = Dispatch.objects.filter(
            status=Dispatch.Status.QUEUED, channel=channel, due_at__lte=late
        )
        oldest = (
            pauses.claimable(due).order_by("due_at").values_list("due_at", flat=True)
        ).first()
        if oldest is None:
            continue
        waited = int((now - oldest).total_seconds() // 60)
        incident, _created = incident_raise(
            kind=Kind.STUCK_QUEUE,
            key=f"stuck_queue:{channel}",
            severity=Severity.CRITICAL,
            title=f"The {channel} queue is stuck: the oldest due dispatch"
            f" has waited {waited} minutes",
        )
        raised.append(incident)
    return raised


def _locked(incident: Incident, to: str) -> Incident:
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if to not in Incident.TRANSITIONS[locked.status]:
        raise problems.INCIDENT_MOVE_REFUSED(
            id=locked.pk, status=locked.status, to=to
        ).validation_error()
    return locked


@transaction.atomic
def incident_acknowledge(
    *, incident: Incident, actor: AbstractBaseUser, note: str = ""
) -> Incident:
    """Acknowledge an incident: the actor owns it from now on."""
    locked = _locked(incident, Status.ACKNOWLEDGED)
    locked.status, locked.acknowledged, locked.owner = (
        Status.ACKNOWLEDGED,
        timezone.now(),
        actor,
    )
    if note.strip():
        locked.notes = f"{locked.notes}\n{note.strip()}".strip()
    locked.save(update_fields=["status", "acknowledged", "owner", "notes"])
    event_record(
        action="channels.incident.acknowledged",
        actor=actor,
        subject=locked,
        before={"status": Status.OPEN},
        after={"status": Status.ACKNOWLEDGED, "owner": actor.get_username()},
        reason=note,
    )
    return locked


@transaction.atomic
def incident_resolve(
    *, incident: Incident, actor: AbstractBaseUser, root_cause: str, note: str = ""
) -> Incident:
    """Resolve an incident with its root cause."""
    if not root_cause.strip():
        raise problems.INCIDENT_ROOT_CAUSE_REQUIRED().validation_error()
    locked = _locked(incident, Status.RESOLVED)
    before = locked.status
    locked.status, locked.resolved = Status.RESOLVED, timezone.now()
    locked.root_cause = root_cause.strip()
    locked.owner = locked.owner or actor
    if note.strip():
        locked.notes = f"{locked.notes}\n{note.strip()}".strip()
    locked.save(update_fields=["status", "resolved", "root_cause", "owner", "notes"])
    event_record(
        action="channels.incident.resolved",
        actor=actor,
        subject=locked,
        before={"status": before},
        after={"status": Status.RESOLVED, "root_cause": locked.root_cause},
        reason=note,
    )
    return locked


@transaction.atomic
def incident_update(
    *,
    incident: Incident,
    actor: AbstractBaseUser,
    owner: AbstractBaseUser | None,
    notes: str,
    root_cause: str,
) -> Incident:
    """Change an incident's owner, notes or root cause."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    before = {
        "owner": locked.owner.get_username() if locked.owner else None,
        "notes": locked.notes,
        "root_cause": locked.root_cause,
    }
    locked.owner, locked.notes, locked.root_cause = owner, notes, root_cause
    locked.save(update_fields=["owner", "notes", "root_cause"])
    event_record(
        action="channels.incident.changed",
        actor=actor,
        subject=locked,
        before=before,
        after={
            "owner": owner.get_username() if owner else None,
            "notes": notes,
            "root_cause": root_cause,
        },
    )
    return locked


@transaction.atomic
def severity_policy_save(*, policy: SeverityPolicy, actor: AbstractBaseUser) -> None:
    """Save a severity's deadline, owner group and notification, audited."""
    before = (
        SeverityPolicy.objects.filter(pk=policy.pk)
        .values("deadline_minutes", "owner_group_id", "notify", "on_call")
        .first()
    )
    policy.full_clean()
    policy.save()
    event_record(
        action="channels.severity_policy.changed",
        actor=actor,
        subject=policy,
        before=before,
        after={
            "deadline_minutes": policy.deadline_minutes,
            "owner_group_id": policy.owner_group_id,
            "notify": policy.notify,
            "on_call": policy.on_call,
        },
    )
