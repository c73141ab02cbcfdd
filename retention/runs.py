"""The retention run: erase what each category's retention class lets expire.

For each retention class, the parts with the same period go together: the
run walks the dispatches created before that period's cutoff that still hold
one of those parts, oldest first, over the partial index of rows not fully
erased (keyset on created, id), and hands each chunk to the eraser, which
skips what a hold covers or a sender holds. Counts are stored after every
chunk, so the run shows its progress. One run at a time (a partial unique
constraint); a run that finds nothing expired erases nothing, so a second run
the same day, or a second beat sending the task twice, is harmless.
"""

import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from audit.services import event_record
from channels_app.models import CONTENT_PARTS_ALL, ContentPart, Dispatch, ErasureCause
from retention.erasure import CHUNK_SIZE, ErasureCount, dispatches_content_erase
from retention.models import PART_FIELDS, RetentionClass, RetentionRun

logger = logging.getLogger(__name__)
# A run that has not stored progress for this long died with its worker.
STALE_AFTER = timedelta(hours=6)
# The run's counters, by ContentPart.
PART_COUNTERS = {
    ContentPart.COPY: "copies",
    ContentPart.PDF: "pdfs",
    ContentPart.CONTACT: "contacts",
    ContentPart.SNAPSHOT: "snapshots",
}


class RunInProgress(Exception):
    """Another retention run is running."""


@dataclass(frozen=True)
class Plan:
    """What one pass erases: these parts of the dispatches of these categories
    created before the cutoff."""

    retention_class: RetentionClass
    scope: Q
    parts: int
    cutoff: datetime


def plans_for(now: datetime) -> list[Plan]:
    """Return the passes the retention classes call for at `now`."""
    classes = list(RetentionClass.objects.select_related("category"))
    own = sorted(c.category.code for c in classes if c.category is not None)
    plans = []
    for retention_class in classes:
        scope = (
            Q(communication__category=retention_class.category.code)
            if retention_class.category is not None
            else ~Q(communication__category__in=own)
        )
        by_days: dict[int, int] = defaultdict(int)
        for part in PART_FIELDS:
            days = retention_class.days(part)
            if days is not None:
                by_days[days] |= part
        plans += [
            Plan(retention_class, scope, parts, now - timedelta(days=days))
            for days, parts in sorted(by_days.items())
        ]
    return plans


def expired_chunks(plan: Plan, *, chunk_size: int) -> Iterator[list[int]]:
    """Yield the ids of the dispatches `plan` erases, oldest first, in chunks."""
    expired = (
        Dispatch.objects.filter(
            erased_parts__lt=CONTENT_PARTS_ALL, created__lt=plan.cutoff
        )
        .filter(plan.scope)
        .annotate(done=F("erased_parts").bitand(plan.parts))
        .exclude(done=plan.parts)
        .order_by("created", "id")
    )
    after = None
    while True:
        page = expired
        if after is not None:
            page = expired.filter(created__gte=after[0]).filter(
                Q(created__gt=after[0]) | Q(id__gt=after[1])
            )
        rows = list(page.values_list("id", "created")[:chunk_size])
        if not rows:
            return
        yield [pk for pk, _created in rows]
        after = rows[-1][1], rows[-1][0]


def _run_start(actor: AbstractBaseUser | None, now: datetime) -> RetentionRun:
    """Open a run, closing a stale one a dead worker left; refuse a live one."""
    RetentionRun.objects.filter(
        status=RetentionRun.Status.RUNNING, started__lt=now - STALE_AFTER
    ).update(
        status=RetentionRun.Status.FAILED,
        finished=now,
        error="The run stopped without finishing (its worker died).",
    )
    try:
        with transaction.atomic():
            return RetentionRun.objects.create(
                as_of=now, started_by=actor, started=timezone.now()
            )
    except IntegrityError:
        raise RunInProgress("another retention run is running") from None


def _progress(run: RetentionRun, examined: int, count: ErasureCount) -> None:
    """Add a chunk's counts to the run's row, committed at once."""
    RetentionRun.objects.filter(pk=run.pk).update(
        examined=F("examined") + examined,
        dispatches=F("dispatches") + count.dispatches,
        held=F("held") + count.held,
        busy=F("busy") + count.busy,
        **{
            PART_COUNTERS[part]: F(PART_COUNTERS[part]) + n
            for part, n in count.parts.items()
        },
    )


def retention_run(
    *,
    actor: AbstractBaseUser | None = None,
    now: datetime | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> RetentionRun:
    """Erase every expired part not under hold; return the finished run.

    `now` is the time expiry is measured against (default: the start).
    Raises RunInProgress when another run is running.
    """
    now = now or timezone.now()
    run = _run_start(actor, now)
    label = f"retention run #{run.pk}"
    try:
        for plan in plans_for(now):
            for ids in expired_chunks(plan, chunk_size=chunk_size):
                count = dispatches_content_erase(
                    ids,
                    cause=ErasureCause.RETENTION,
                    actor=actor,
                    actor_label=label if actor is None else "",
                    reason=f"{plan.retention_class}: {label}",
                    parts=plan.parts,
                    chunk_size=chunk_size,
                )
                _progress(run, len(ids), count)
    except Exception as exc:
        RetentionRun.objects.filter(pk=run.pk).update(
            status=RetentionRun.Status.FAILED, finished=timezone.now(), error=str(exc)
        )
        logger.exception("%s failed", label)
        raise
    run.refresh_from_db()
    run.status, run.finished = RetentionRun.Status.DONE, timezone.now()
    with transaction.atomic():
        run.save(update_fields=["status", "finished"])
        event_record(
            action="retention.run.finished",
            actor=actor,
            actor_label=label if actor is None else "",
            subject=run,
            after={
                "as_of": now.isoformat(),
                "examined": run.examined,
                "dispatches": run.dispatches,
                **{name: getattr(run, name) for name in PART_COUNTERS.values()},
                "held": run.held,
                "busy": run.busy,
            },
        )
    logger.info(
        "%s: %s dispatches erased, %s kept under hold", label, run.dispatches, run.held
    )
    return run
