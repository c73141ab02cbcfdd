"""The outbox: claim due dispatches, send them, record every outcome.

The Dispatch row is the source of truth. A worker claims due rows with
SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite's IMMEDIATE transactions
serialise claimers instead) and leases them. The attempt cap lives in the
database, so a message redelivered by the broker forever still stops at it.

Sending a batch commits two things, at two speeds:

1. right after the provider accepts a message, a one-row UPDATE in autocommit
   stores its provider message id on the still-"sending" row: the *accepted
   mark*. On PostgreSQL these commits do not wait for the WAL flush
   (`synchronous_commit = off` for the send loop), so they cost ~0.2 ms, not
   the ~3 ms of an fsync;
2. after the batch, one transaction writes the bookkeeping of every outcome
   in bulk: dispatch rows moved grouped by outcome, attempt rows, status
   changes, escalations and audit events.

A worker killed mid-batch therefore leaves its accepted messages marked, and
the sweeper finishes their bookkeeping once the lease expires instead of
sending them again (`dispatches_sweep`). Only a message accepted by the
provider in the instant before its mark was committed can be sent twice: at
most one per killed process. A crash of the PostgreSQL server itself (not of
a worker) can also lose the marks of its last ~0.6 s of asynchronous commits.
"""

import logging
import os
import socket
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import AuditEntry
from ccm.bulk import rows_insert
from ccm.logs import dispatch_fields
from channels_app import incidents, lifecycle, pauses, ruling
from channels_app.backends import (
    DeliveryError,
    TransientError,
    backend_for,
    sends,
)
from channels_app.models import Dispatch, DispatchAttempt, Severity

Status = Dispatch.Status
logger = logging.getLogger(__name__)

# What a send needs of a dispatch; the data snapshot and rule history stay put.
SEND_FIELDS = (
    "id",
    "channel",
    "address",
    "status",
    "status_changed",
    "lease_until",
    "attempt_count",
    "max_attempts",
    "subject",
    "body_html",
    "body_text",
    "language",
    "letter_pdf",
    "content_sha256",
    "provider_message_id",
    "communication__id",
    "communication__public_id",
    "communication__mandatory",
    # The audit events of a send are sealed under the customer's key.
    "communication__customer_id",
)
LEASE_EXPIRED = "lease expired: the worker stopped mid-send"


def _lease() -> timedelta:
    return timedelta(seconds=getattr(settings, "DISPATCH_LEASE_SECONDS", 300))


def retry_delay(attempt: int) -> timedelta:
    """Return the exponential backoff before retry number `attempt` + 1."""
    base = getattr(settings, "DISPATCH_RETRY_BASE_SECONDS", 30)
    cap = getattr(settings, "DISPATCH_RETRY_MAX_SECONDS", 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempt - 1)))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def dispatches_claim(
    *, limit: int = 100, now: datetime | None = None, channel: str | None = None
) -> list[int]:
    """Lease up to `limit` due queued dispatches to this worker; return their ids."""
    return list(_claim(limit=limit, now=now, channel=channel))


def _claim(
    *, limit: int, now: datetime | None = None, channel: str | None = None
) -> dict[int, int]:
    """Lease due dispatches (of one channel, if given); return each claimed id
    with its attempt number.

    Consent and the central rules see the locked rows first: the ones they
    hold back (suppressed, deferred, cancelled) are not claimed. A channel's
    claim reads the (channel, due_at) index, so 100,000 letters due do not
    slow the claim of one passcode SMS. Rows a pause holds stay queued and
    unclaimed.
    """
    now = now or timezone.now()
    due_rows = Dispatch.objects.filter(status=Status.QUEUED, due_at__lte=now)
    if channel is not None:
        due_rows = due_rows.filter(channel=channel)
    due_rows = pauses.pauses_active().claimable(due_rows)
    with transaction.atomic():
        due = list(
            due_rows.select_for_update(skip_locked=True, of=("self",))
            .order_by("due_at", "id")
            .only("id", "status", "attempt_count")[:limit]
        )
        if not due:
            return {}
        held = ruling.due_recheck(ids=[d.pk for d in due], now=now)
        due = [d for d in due if d.pk not in held]
        lifecycle.dispatches_move(
            moves=[
                lifecycle.Move(
                    dispatch,
                    Status.SENDING,
                    changes={
                        "lease_until": now + _lease(),
                        "attempt_count": dispatch.attempt_count + 1,
                        # Empty until the provider accepts this attempt: the
                        # accepted mark.
                        "provider_message_id": "",
                    },
                )
                for dispatch in due
            ],
            now=now,
        )
    return {d.pk: d.attempt_count for d in due}


@dataclass
class Outcome:
    """What one attempt at one dispatch came to."""

    dispatch: Dispatch
    attempt: int
    started: datetime
    duration_ms: int = 0
    provider_message_id: str = ""
    error: DeliveryError | None = None
    # The accepted mark (provider id and time) is already committed on the row.
    marked: bool = False
    worker: str = ""


def _severity_for(dispatch: Dispatch) -> str:
    return Severity.HIGH if dispatch.communication.mandatory else Severity.MEDIUM


def outcomes_record(*, outcomes: Sequence[Outcome]) -> list[str | None]:
    """Record many attempts in one transaction; return each dispatch's new status.

    Only a dispatch still leased to its attempt moves (None is returned for the
    others): if a lease expired and the row was swept or claimed again, the
    late outcome is kept as an attempt but changes nothing else.
    """
    if not outcomes:
        return []
    now = timezone.now()
    with transaction.atomic():
        current = dict(
            Dispatch.objects.select_for_update()
            .filter(id__in=[o.dispatch.pk for o in outcomes], status=Status.SENDING)
            .order_by("id")
            .values_list("id", "attempt_count")
        )
        moves: list[lifecycle.Move] = []
        attempts, late_attempts = [], []
        refused: list[tuple[str, int]] = []
        statuses: list[str | None] = []
        for outcome in outcomes:
            dispatch, error = outcome.dispatch, outcome.error
            detail = str(error) if error else ""
            if error is None:
                status, kind = Status.SENT, DispatchAttempt.Outcome.SENT
            elif isinstance(error, TransientError):
                kind = DispatchAttempt.Outcome.TRANSIENT
                exhausted = outcome.attempt >= dispatch.max_attempts
                status = Status.FAILED if exhausted else Status.QUEUED
            else:
                status, kind = Status.FAILED, DispatchAttempt.Outcome.PERMANENT
            attempt = DispatchAttempt(
                dispatch_id=dispatch.pk,
                number=outcome.attempt,
                started=outcome.started,
                duration_ms=outcome.duration_ms,
                outcome=kind,
                error=detail,
                worker=outcome.worker or worker_name(),
            )
            if current.get(dispatch.pk) != outcome.attempt:
                if error is None:
                    logger.warning(
                        "dispatch %s was accepted after its lease was taken over; "
                        "it may reach the recipient twice",
                        dispatch.pk,
                        extra=dispatch_fields(dispatch),
                    )
                late_attempts.append(attempt)
                statuses.append(None)
                continue
            attempts.append(attempt)
            if error is not None and detail != LEASE_EXPIRED:
                refused.append((dispatch.channel, dispatch.pk))
            # The status the row has now: a lease is held while sending.
            dispatch.status = Status.SENDING
            moves.append(_outcome_move(outcome, status, detail, now))
            statuses.append(status)
            # The kind of error only: its text can quote the address.
            logger.info(
                "dispatch %s attempt %s: %s%s",
                dispatch.pk,
                outcome.attempt,
                status,
                f" ({type(error).__name__})" if error else "",
                extra=dispatch_fields(dispatch),
            )
        rows_insert(attempts)
        # A swept lease already holds this attempt number: keep the first.
        DispatchAttempt.objects.bulk_create(late_attempts, ignore_conflicts=True)
        lifecycle.dispatches_move(moves=moves, now=now)
        # A storm of refusals is one critical incident, not one per dispatch.
        incidents.failures_note(refused)
    return statuses


def _outcome_move(
    outcome: Outcome, status: str, detail: str, now: datetime
) -> lifecycle.Move:
    """Return the move one attempt's outcome makes, with its event and escalation."""
    dispatch = outcome.dispatch
    changes: dict[str, Any] = {"lease_until": None}
    at = now
    if outcome.error is None:
        changes["error"] = ""
        if outcome.marked:
            # The mark already holds the provider id and the time.
            at = dispatch.status_changed
        else:
            changes["provider_message_id"] = outcome.provider_message_id
    else:
        changes["error"] = detail
    if status == Status.QUEUED:
        changes["due_at"] = now + retry_delay(outcome.attempt)
    move = lifecycle.Move(
        dispatch,
        status,
        detail=detail,
        changes=changes,
        at=at,
        stamp=not (outcome.error is None and outcome.marked),
    )
    if status == Status.SENT:
        move.event = AuditEntry(
            action="channels.dispatch.sent",
            subject=dispatch,
            after={
                "channel": dispatch.channel,
                "address": dispatch.address,
                "provider_message_id": outcome.provider_message_id,
                "content_sha256": dispatch.content_sha256,
                "attempt": outcome.attempt,
            },
        )
    elif status == Status.FAILED:
        severity = _severity_for(dispatch)
        changes["severity"] = severity
        move.escalation = (
            severity,
            f"{dispatch.channel} to {dispatch.address} failed "
            f"after {outcome.attempt} attempt(s): {detail}",
        )
        move.event = AuditEntry(
            action="channels.dispatch.failed",
            subject=dispatch,
            after={"error": detail, "severity": severity},
        )
    return move


def dispatch_outcome_record(
    *,
    dispatch: Dispatch,
    started: datetime,
    duration_ms: int,
    provider_message_id: str = "",
    error: DeliveryError | None = None,
) -> str:
    """Record one attempt's outcome and move the dispatch on; return its status."""
    [status] = outcomes_record(
        outcomes=[
            Outcome(
                dispatch=dispatch,
                attempt=dispatch.attempt_count,
                started=started,
                duration_ms=duration_ms,
                provider_message_id=provider_message_id,
                error=error,
            )
        ]
    )
    if status is None:
        return Dispatch.objects.values_list("status", flat=True).get(pk=dispatch.pk)
    return status


def _mark_sql() -> str:
    table = connection.ops.quote_name(Dispatch._meta.db_table)
    # The table name is the model's own; every value is a parameter.
    return (
        f"UPDATE {table} "  # noqa: S608
        "SET provider_message_id = %s, status_changed = %s "
        "WHERE id = %s AND status = %s AND attempt_count = %s"
    )


@contextmanager
def _mark_cursor() -> Iterator[tuple[Any, dict]]:
    """Yield a cursor for the accepted marks, and the options of its execute().

    Each mark commits on its own. On PostgreSQL the marks do not wait for the
    WAL flush (a killed worker loses nothing committed this way; only a crash
    of the database server can lose the last fraction of a second of marks),
    and the statement is prepared on the server once per batch rather than
    parsed and planned per message: half the database CPU of a mark.
    """
    if connection.vendor != "postgresql" or settings.DATABASE_TRANSACTION_POOLING:
        # Behind PgBouncer in transaction mode: no session state, no prepare.
        with connection.cursor() as cursor:
            yield cursor, {}
        return
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO off")
    try:
        # Django's cursors bind on the client; this one binds on the server.
        with psycopg.Cursor(connection.connection) as cursor:
            yield cursor, {"prepare": True}
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET synchronous_commit")


def _channel_send(channel: str, dispatches: list[Dispatch]) -> list[Outcome]:
    """Send one channel's dispatches on one backend connection; mark each accepted."""
    worker = worker_name()
    backend = backend_for(channel)
    try:
        backend.open()
    except DeliveryError as exc:
        now = timezone.now()
        return [
            Outcome(d, d.attempt_count, now, error=exc, worker=worker)
            for d in dispatches
        ]
    outcomes: list[Outcome] = []
    started: dict[int, tuple[datetime, float]] = {}
    # Never start a send the sweeper may already be taking back.
    margin = min(timedelta(seconds=10), _lease() / 4)

    def leased() -> Iterator[Dispatch]:
        for dispatch in dispatches:
            now = timezone.now()
            if dispatch.lease_until and dispatch.lease_until - margin <= now:
                error = TransientError("lease ran out before the send")
                outcomes.append(
                    Outcome(dispatch, dispatch.attempt_count, now, error=error)
                )
                continue
            started[dispatch.pk] = (now, time.monotonic())
            yield dispatch

    sql = _mark_sql()
    try:
        with _mark_cursor() as (cursor, options):
            for dispatch, result in sends(backend, leased()):
                began, clock = started[dispatch.pk]
                duration = int((time.monotonic() - clock) * 1000)
                attempt = dispatch.attempt_count
                if isinstance(result, DeliveryError):
                    outcomes.append(
                        Outcome(dispatch, attempt, began, duration, error=result)
                    )
                    continue
                provider_id = result or f"dispatch-{dispatch.pk}"
                accepted = timezone.now()
                cursor.execute(
                    sql,
                    [provider_id, accepted, dispatch.pk, Status.SENDING, attempt],
                    **options,
                )
                marked = cursor.rowcount == 1
                dispatch.status_changed = accepted
                outcomes.append(
                    Outcome(
                        dispatch,
                        attempt,
                        began,
                        duration,
                        provider_message_id=provider_id,
                        marked=marked,
                    )
                )
    finally:
        backend.close()
    for outcome in outcomes:
        outcome.worker = worker
    return outcomes


def dispatches_send(
    *, ids: Iterable[int], claimed: Mapping[int, int] | None = None
) -> dict[str, int]:
    """Send the leased dispatches; return how many reached each status.

    `claimed` maps each id to the attempt this worker claimed: a row since
    swept and claimed by another worker is left alone.
    """
    rows = [
        dispatch
        for dispatch in Dispatch.objects.filter(id__in=list(ids), status=Status.SENDING)
        .select_related("communication")
        .only(*SEND_FIELDS)
        .order_by("channel", "id")
        if claimed is None or claimed.get(dispatch.pk) == dispatch.attempt_count
    ]
    outcomes: list[Outcome] = []
    for channel, dispatches in groupby(rows, key=lambda d: d.channel):
        outcomes.extend(_channel_send(channel, list(dispatches)))
    counts = Counter(s for s in outcomes_record(outcomes=outcomes) if s is not None)
    return dict(counts)


def dispatches_sweep(*, now: datetime | None = None, limit: int = 5000) -> int:
    """Settle dispatches whose lease expired (a worker died); return how many.

    A row that carries the accepted mark was taken by the provider: it is
    recorded as sent, never sent again. Any other goes back to the queue, the
    dead claim counted as a failed attempt.
    """
    now = now or timezone.now()
    with transaction.atomic():
        expired = list(
            Dispatch.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Status.SENDING, lease_until__lt=now)
            .select_related("communication")
            .only(*SEND_FIELDS)
            .order_by("lease_until")[:limit]
        )
        outcomes_record(
            outcomes=[
                Outcome(
                    dispatch,
                    dispatch.attempt_count,
                    dispatch.status_changed,
                    provider_message_id=dispatch.provider_message_id,
                    marked=bool(dispatch.provider_message_id),
                    error=(
                        None
                        if dispatch.provider_message_id
                        else TransientError(LEASE_EXPIRED)
                    ),
                    worker=f"sweeper {worker_name()}",
                )
                for dispatch in expired
            ]
        )
    return len(expired)


def outbox_pump(
    *, batch: int = 500, seconds: float = 30.0, channel: str | None = None
) -> dict[str, int]:
    """Claim and send due dispatches (of one channel, if given) until none are
    due or time is up."""
    totals: Counter = Counter()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        claimed = _claim(limit=batch, channel=channel)
        if not claimed:
            break
        totals.update(dispatches_send(ids=list(claimed), claimed=claimed))
    return dict(totals)
