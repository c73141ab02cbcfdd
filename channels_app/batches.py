"""Batch runs: many communications of one template, from a CSV file or the API.

A batch and all its rows are stored in one transaction before any row is
processed (its rows are read and checked by channels_app.batch_rows). Rows are
then processed in chunks, one transaction per chunk: the communications of a
chunk, its rows' outcomes and the batch counters commit together, so progress
shows while the batch runs, and a worker that dies mid-run leaves exactly the
unprocessed rows for the next run (nothing lost, nothing twice). Every change
of a batch's status is made here.
"""

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import OperationalError, transaction
from django.db.models import F, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import event_record
from ccm.bulk import rows_update
from ccm.problems import DomainError, problem_from
from channels_app import incidents, problems
from channels_app.batch_rows import BatchRefused, batch_rows_check
from channels_app.customer_rows import customers_upsert_rows
from channels_app.dispatching import (
    AUTO,
    TriggerRefused,
    TriggerRequest,
    communications_trigger_bulk,
)
from channels_app.models import (
    Batch,
    BatchRow,
    Channel,
    Incident,
    Severity,
    validate_schedule,
)
from channels_app.template_checks import template_check
from customers.models import Customer

logger = logging.getLogger(__name__)


# --- Creating a batch -------------------------------------------------------


def batch_create(
    *,
    template_code: str,
    channels: Sequence[str] | str,
    rows: Sequence[dict],
    requester_label: str,
    requested_by: AbstractBaseUser | None = None,
    source_system: str = "",
    file_name: str = "",
    idempotency_key: str = "",
    scheduled_for: datetime | None = None,
) -> Batch:
    """Check a batch whole, store it with all its rows, and start its run on commit.

    Raise BatchRefused (nothing stored) for an unknown template, channels the
    template does not support, no rows, too many rows, or any row whose
    customer fields or data are wrong. Problems that depend on the moment
    (consent, contact points, unknown customers) refuse single rows at run
    time.
    """
    checked = template_check(template_code, channels)
    found = checked.problems
    if not rows:
        found["rows"] = [_("add at least one row")]
    elif len(rows) > settings.BATCH_MAX_ROWS:
        found["rows"] = [
            problems.BATCH_TOO_MANY_ROWS(count=len(rows), limit=settings.BATCH_MAX_ROWS)
        ]
    if scheduled_for is not None and timezone.is_naive(scheduled_for):
        found["schedule"] = [_("give a time zone with the time")]
    elif scheduled_for is not None:
        try:
            validate_schedule(scheduled_for)
        except ValidationError as exc:
            found["schedule"] = exc.messages
    if found or checked.template is None:
        raise BatchRefused(found)
    batch_rows_check(rows, schema=checked.template.data_schema or {})
    with transaction.atomic():
        batch = Batch.objects.create(
            template_code=checked.template.code,
            channels=checked.channels,
            source_system=source_system,
            file_name=file_name,
            requested_by=requested_by,
            requester_label=requester_label,
            idempotency_key=idempotency_key,
            scheduled_for=scheduled_for,
            total=len(rows),
        )
        BatchRow.objects.bulk_create(
            (
                BatchRow(batch=batch, number=number, payload=row)
                for number, row in enumerate(rows, 1)
            ),
            batch_size=2000,
        )
        event_record(
            action="channels.batch.created",
            actor=requested_by,
            actor_label=requester_label if requested_by is None else "",
            subject=batch,
            after={
                "template": batch.template_code,
                "channels": batch.channels,
                "rows": batch.total,
                "file_name": file_name,
                "source_system": source_system,
                "scheduled_for": scheduled_for,
            },
        )
        transaction.on_commit(lambda: batch_run_enqueue(batch_id=batch.pk))
    return batch


def batch_run_enqueue(*, batch_id: int) -> None:
    """Ask a worker to run a batch; beat's batches_resume covers a lost request."""
    from channels_app.tasks import batch_run as batch_run_task

    try:
        batch_run_task.apply_async((batch_id,), retry=False)
    except Exception:  # noqa: BLE001 (broker down: the database keeps the batch)
        logger.warning(
            "could not reach the broker to run batch %s; beat will resume it", batch_id
        )


# --- Running a batch --------------------------------------------------------


def batch_run(
    *, batch: Batch, chunk_rows: int | None = None, max_chunks: int | None = None
) -> Batch:
    """Process the unprocessed rows of a batch chunk by chunk, then close it.

    Several runs of one batch at once are safe: each chunk locks the batch row
    (SKIP LOCKED on PostgreSQL; SQLite has one writer), so a run that finds it
    locked leaves the rest to the run holding it. `max_chunks` stops early,
    as a killed worker would, for tests.
    """
    chunk_rows = chunk_rows or settings.BATCH_CHUNK_ROWS
    try:
        if not _batch_start(batch):
            batch.refresh_from_db()
            return batch
        chunks = 0
        while max_chunks is None or chunks < max_chunks:
            done = _chunk_process(batch, chunk_rows)
            if done is None:  # another run holds the batch, or it stopped
                break
            if done == 0:
                _batch_finish(batch)
                break
            chunks += 1
    except OperationalError:
        # A lock timeout or a lost connection: leave the batch as it is for
        # the next run (beat's batches_resume); its rows are untouched.
        logger.warning("batch %s paused by a database error", batch.pk, exc_info=True)
    except Exception as exc:
        logger.exception("batch %s failed", batch.pk)
        _batch_fail(batch, exc)
    batch.refresh_from_db()
    return batch


def _batch_start(batch: Batch) -> bool:
    """Move a pending batch to running; return whether it should run."""
    with transaction.atomic():
        locked = (
            Batch.objects.select_for_update(skip_locked=True)
            .filter(
                pk=batch.pk, status__in=[Batch.Status.PENDING, Batch.Status.RUNNING]
            )
            .first()
        )
        if locked is None:
            return False
        if locked.status == Batch.Status.PENDING:
            locked.status = Batch.Status.RUNNING
            locked.started = locked.started or timezone.now()
            locked.save(update_fields=["status", "started"])
    return True


def _chunk_process(batch: Batch, chunk_rows: int) -> int | None:
    """Process one chunk in one transaction; return its size, None if not ours."""
    with transaction.atomic():
        locked = (
            Batch.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("requested_by")
            .filter(pk=batch.pk, status=Batch.Status.RUNNING)
            .first()
        )
        if locked is None:
            return None
        rows = list(
            locked.rows.filter(processed__isnull=True).order_by("number")[:chunk_rows]
        )
        if not rows:
            return 0
        customers, refusals = customers_upsert_rows(
            [(row.number, row.payload["customer"]) for row in rows],
            actor=locked.requested_by,
            actor_label=locked.requester_label if not locked.requested_by else "",
        )
        ready = [row for row in rows if row.number in customers]
        results = communications_trigger_bulk(
            requests=[_request(locked, row, customers[row.number]) for row in ready],
            requester_label=locked.requester_label,
            requested_by=locked.requested_by,
            batch=locked,
        )
        now = timezone.now()
        accepted = 0
        for row, result in zip(ready, results, strict=True):
            if isinstance(result, TriggerRefused):
                refusals[row.number] = result.as_stored()
            else:
                row.communication = result
                accepted += 1
        for row in rows:
            row.problems = refusals.get(row.number, {})
            row.processed = now
        # One UPDATE from a JSON recordset on PostgreSQL: the ORM's
        # bulk_update builds a CASE per row and field, a quarter of a chunk.
        rows_update(rows, ["communication", "problems", "processed"])
        Batch.objects.filter(pk=locked.pk).update(
            processed=F("processed") + len(rows),
            accepted=F("accepted") + accepted,
            refused=F("refused") + len(rows) - accepted,
        )
    return len(rows)


def _request(batch: Batch, row: BatchRow, customer: Customer) -> TriggerRequest:
    payload = row.payload
    # Stored with the communication, so not translated.
    where = batch.file_name or "batch"
    return TriggerRequest(
        template_code=batch.template_code,
        customer=customer,
        data=payload["data"],
        channels=batch.channels if batch.channels != [] else AUTO,
        source_system=batch.source_system,
        source_reference=payload.get("source_reference") or f"{where} row {row.number}",
        idempotency_key=f"{batch.public_id}:{row.number}",
        scheduled_for=batch.scheduled_for,
        scope=payload.get("scope", ""),
        correlation_key=payload.get("correlation_key", ""),
        supersedes=payload.get("supersedes", []),
        waits_for=payload.get("waits_for", []),
    )


def _batch_finish(batch: Batch) -> None:
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.RUNNING:
            return
        if locked.rows.filter(processed__isnull=True).exists():
            return
        locked.status = Batch.Status.DONE
        locked.finished = timezone.now()
        locked.save(update_fields=["status", "finished"])
        event_record(
            action="channels.batch.finished",
            subject=locked,
            after={
                "total": locked.total,
                "processed": locked.processed,
                "accepted": locked.accepted,
                "refused": locked.refused,
            },
        )
        if locked.total and locked.refused / locked.total >= batch_refusal_share():
            incidents.incident_raise(
                kind=Incident.Kind.BATCH_REFUSALS,
                key=f"batch_refusals:{locked.pk}",
                severity=Severity.HIGH,
                title=f"Batch {locked.template_code} ({locked.file_name or locked.pk})"
                f": {locked.refused} of {locked.total} rows refused",
                template_code=locked.template_code,
                batch=locked,
                occurrences=locked.refused,
            )


def batch_refusal_share() -> float:
    """Return the share of refused rows that makes a batch an incident."""
    return getattr(settings, "INCIDENT_BATCH_REFUSED_SHARE", 0.2)


def _batch_fail(batch: Batch, exc: BaseException) -> None:
    error = f"{type(exc).__name__}: {exc}"
    with transaction.atomic():
        locked = Batch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != Batch.Status.RUNNING:
            return
        locked.status = Batch.Status.FAILED
        locked.error = error
        locked.save(update_fields=["status", "error"])
        event_record(
            action="channels.batch.failed",
            subject=locked,
            after={"processed": locked.processed, "total": locked.total},
            reason=error,
        )


class BatchNotResumable(DomainError, ValueError):
    """Only a failed batch can be put back in the queue."""


@transaction.atomic
def batch_resume(*, batch: Batch, actor: AbstractBaseUser) -> Batch:
    """Put a failed batch back in the queue; its unprocessed rows run again."""
    locked = Batch.objects.select_for_update().get(pk=batch.pk)
    if locked.status != Batch.Status.FAILED:
        raise BatchNotResumable(
            problems.BATCH_NOT_RESUMABLE(batch=locked.public_id, status=locked.status)
        )
    error = locked.error
    locked.status = Batch.Status.PENDING
    locked.error = ""
    locked.save(update_fields=["status", "error"])
    event_record(
        action="channels.batch.resumed",
        actor=actor,
        subject=locked,
        before={"status": Batch.Status.FAILED, "error": error},
        after={"status": Batch.Status.PENDING},
    )
    transaction.on_commit(lambda: batch_run_enqueue(batch_id=locked.pk))
    return locked


def batches_resume() -> list[int]:
    """Start a run for every pending or running batch without recent progress.

    Covers a lost run request and a worker killed mid-run; a batch still being
    worked is left alone by the extra run (it finds the batch locked).
    """
    cutoff = timezone.now() - timedelta(seconds=settings.BATCH_STALE_SECONDS)
    stale = list(
        Batch.objects.filter(
            status__in=[Batch.Status.PENDING, Batch.Status.RUNNING], created__lt=cutoff
        )
        .annotate(last_progress=Max("rows__processed"))
        .filter(Q(last_progress__isnull=True) | Q(last_progress__lt=cutoff))
        .values_list("pk", flat=True)
    )
    for batch_id in stale:
        batch_run_enqueue(batch_id=batch_id)
    return stale


def batch_row_problems(*, batch: Batch, limit: int = 100) -> list[dict[str, Any]]:
    """Return the first refused rows of a batch with their problems."""
    return [
        {
            "row": row.number,
            "line": row.payload.get("line"),
            "external_id": row.payload.get("customer", {}).get("external_id", ""),
            "problems": {
                name: [problem_from(item) for item in found]
                for name, found in row.problems.items()
            },
        }
        for row in batch.rows.filter(
            processed__isnull=False, communication__isnull=True
        )
        .order_by("number")
        .only("number", "payload", "problems")[:limit]
    ]


def batch_channels_label(batch: Batch) -> str:
    """Return the channels of a batch as operators read them."""
    if batch.channels in (AUTO, [], [AUTO]):
        return _("auto")
    return ", ".join(
        str(Channel(c).label) for c in batch.channels if c in Channel.values
    )
