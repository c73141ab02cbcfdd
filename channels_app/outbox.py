"""The outbox: claim due dispatches, send them, record every outcome.

The Dispatch row is the source of truth. A worker claims due rows with
SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite's IMMEDIATE transactions
serialise claimers instead) and leases them; each outcome is committed in its
own short transaction right after the provider answers, so a killed worker
leaves at most the one in-flight message per process unrecorded. Expired
leases are swept back to the queue. The attempt cap lives in the database, so
a message redelivered by the broker forever still stops at the cap.
"""

import os
import socket
import time
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from audit.services import AuditEntry, events_record_bulk
from channels_app.backends import (
    DeliveryError,
    PermanentError,
    TransientError,
    backend_for,
)
from channels_app.models import (
    Dispatch,
    DispatchAttempt,
    DispatchStatusChange,
    Escalation,
    Severity,
)

Status = Dispatch.Status


def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "DISPATCH_LEASE_SECONDS", 300))


def retry_delay(attempt: int) -> timedelta:
    """Return the exponential backoff before retry number `attempt` + 1."""
    base = getattr(settings, "DISPATCH_RETRY_BASE_SECONDS", 30)
    cap = getattr(settings, "DISPATCH_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatches_claim(*, limit: int = 100, now: datetime | None = None) -> list[int]:
    """Lease up to `limit` due queued dispatches to this worker; return their ids."""
    now = now or timezone.now()
    with transaction.atomic():
        ids = list(
            Dispatch.objects.select_for_update(skip_locked=True)
            .filter(status=Status.QUEUED, due_at__lte=now)
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:limit]
        )
        if not ids:
            return []
        Dispatch.objects.filter(id__in=ids).update(
            status=Status.SENDING,
            status_changed=now,
            lease_until=now + _lease(),
            attempt_count=F("attempt_count") + 1,
        )
        DispatchStatusChange.objects.bulk_create(
            DispatchStatusChange(dispatch_id=pk, status=Status.SENDING, at=now)
            for pk in ids
        )
    return ids


def _severity_for(dispatch: Dispatch) -> str:
    return Severity.HIGH if dispatch.communication.mandatory else Severity.MEDIUM


@transaction.atomic
def dispatch_outcome_record(
    *,
    dispatch: Dispatch,
    started: datetime,
    duration_ms: int,
    provider_message_id: str = "",
    error: DeliveryError | None = None,
) -> str:
    """Record one attempt's outcome and move the dispatch on; return its status.

    Only a dispatch still leased to this attempt moves: if its lease expired and
    another worker re-claimed it, this late outcome is recorded as an attempt
    but changes nothing else.
    """
    now = timezone.now()
    if error is None:
        status, outcome = Status.SENT, DispatchAttempt.Outcome.SENT
    elif isinstance(error, TransientError):
        outcome = DispatchAttempt.Outcome.TRANSIENT
        exhausted = dispatch.attempt_count >= dispatch.max_attempts
        status = Status.FAILED if exhausted else Status.QUEUED
    else:
        status, outcome = Status.FAILED, DispatchAttempt.Outcome.PERMANENT

    fields = {"status": status, "status_changed": now, "lease_until": None}
    detail = str(error) if error else ""
    if error is None:
        fields.update(provider_message_id=provider_message_id, error="")
    else:
        fields["error"] = detail
    if status == Status.QUEUED:
        fields["due_at"] = now + retry_delay(dispatch.attempt_count)
    if status == Status.FAILED:
        fields["severity"] = _severity_for(dispatch)
    moved = Dispatch.objects.filter(
        pk=dispatch.pk, status=Status.SENDING, attempt_count=dispatch.attempt_count
    ).update(**fields)
    DispatchAttempt.objects.create(
        dispatch=dispatch,
        number=dispatch.attempt_count,
        started=started,
        duration_ms=duration_ms,
        outcome=outcome,
        error=detail,
        worker=worker_name(),
    )
    if not moved:
        return Dispatch.objects.values_list("status", flat=True).get(pk=dispatch.pk)
    DispatchStatusChange.objects.create(
        dispatch=dispatch, status=status, at=now, detail=detail
    )
    entries = []
    if status == Status.SENT:
        entries.append(
            AuditEntry(
                action="channels.dispatch.sent",
                subject=dispatch,
                after={
                    "channel": dispatch.channel,
                    "address": dispatch.address,
                    "provider_message_id": provider_message_id,
                    "content_sha256": dispatch.content_sha256,
                    "attempt": dispatch.attempt_count,
                },
            )
        )
    elif status == Status.FAILED:
        severity = fields["severity"]
        Escalation.objects.create(
            dispatch=dispatch,
            severity=severity,
            reason=f"{dispatch.channel} to {dispatch.address} failed after "
            f"{dispatch.attempt_count} attempt(s): {detail}",
        )
        entries.append(
            AuditEntry(
                action="channels.dispatch.failed",
                subject=dispatch,
                after={"error": detail, "severity": severity},
            )
        )
    if entries:
        events_record_bulk(entries=entries)
    return status


def dispatches_send(*, ids: Iterable[int]) -> dict[str, int]:
    """Send the leased dispatches, one backend connection per channel."""
    rows = (
        Dispatch.objects.filter(id__in=list(ids), status=Status.SENDING)
        .select_related("communication")
        .order_by("channel", "id")
    )
    by_channel: dict[str, list[Dispatch]] = defaultdict(list)
    for dispatch in rows:
        by_channel[dispatch.channel].append(dispatch)

    counts: dict[str, int] = defaultdict(int)
    for channel, dispatches in by_channel.items():
        backend = backend_for(channel)
        try:
            backend.open()
        except DeliveryError as exc:
            for dispatch in dispatches:
                status = dispatch_outcome_record(
                    dispatch=dispatch,
                    started=timezone.now(),
                    duration_ms=0,
                    error=exc,
                )
                counts[status] += 1
            continue
        try:
            for dispatch in dispatches:
                started, clock = timezone.now(), time.monotonic()
                provider_id, error = "", None
                try:
                    provider_id = backend.send(dispatch)
                except (TransientError, PermanentError) as exc:
                    error = exc
                status = dispatch_outcome_record(
                    dispatch=dispatch,
                    started=started,
                    duration_ms=int((time.monotonic() - clock) * 1000),
                    provider_message_id=provider_id,
                    error=error,
                )
                counts[status] += 1
        finally:
            backend.close()
    return dict(counts)


def dispatches_sweep(*, now: datetime | None = None) -> int:
    """Return dispatches whose lease expired (a worker died) to the queue."""
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Dispatch.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SENDING, lease_until__lt=now)
            .select_related("communication")
        )
        # Recorded as a failed attempt of the claim that died with the worker.
        for dispatch in expired:
            dispatch_outcome_record(
                dispatch=dispatch,
                started=dispatch.status_changed,
                duration_ms=0,
                error=TransientError("lease expired: the worker stopped mid-send"),
            )
    return len(expired)


def outbox_pump(*, batch: int = 100, seconds: float = 30.0) -> dict[str, int]:
    """Claim and send due dispatches until none are due or time is up."""
    totals: dict[str, int] = defaultdict(int)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ids = dispatches_claim(limit=batch)
        if not ids:
            break
        for status, count in dispatches_send(ids=ids).items():
            totals[status] += count
    return dict(totals)
