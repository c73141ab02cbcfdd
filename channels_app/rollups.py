"""Hourly and daily counts of dispatches entering each status, kept as they move.

The lifecycle calls `rollups_add` with the status-history rows it writes, in
the same transaction: one upsert per call (INSERT ... ON CONFLICT DO UPDATE,
on PostgreSQL and SQLite alike), rows in a fixed order so that concurrent
callers lock them in the same order. `rollups_rebuild` recounts from the
status history, for data written before the rollups existed.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Min

from channels_app.models import Dispatch, DispatchRollup, DispatchStatusChange

Span = DispatchRollup.Span
# (when, channel, category, template code, status)
Entry = tuple[datetime, str, str, str, str]
CHUNK = 500


def hour_start(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_start(at: datetime) -> datetime:
    zone = ZoneInfo(settings.TIME_ZONE)
    local = at.astimezone(zone)
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def _sql(rows: int) -> str:
    table = connection.ops.quote_name(DispatchRollup._meta.db_table)
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * rows)
    # The table name is the model's own; every value is a parameter.
    return (
        f"INSERT INTO {table} "  # noqa: S608
        "(span, start, channel, category, template_code, status, count) "
        f"VALUES {values} "
        "ON CONFLICT (span, start, channel, category, template_code, status) "
        f"DO UPDATE SET count = {table}.count + EXCLUDED.count"
    )


def rollups_add(entries: Iterable[Entry]) -> None:
    """Count each entry in its hour and its day."""
    counts: Counter = Counter()
    for at, channel, category, template_code, status in entries:
        key = (channel, category, template_code, status)
        counts[(Span.HOUR.value, hour_start(at), *key)] += 1
        counts[(Span.DAY.value, day_start(at).astimezone(UTC), *key)] += 1
    if not counts:
        return
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (span, adapt(start), *key, count)
        for (span, start, *key), count in sorted(counts.items())
    ]
    # No savepoint: a failed upsert fails the caller's transaction anyway.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for i in range(0, len(rows), CHUNK):
            chunk = rows[i : i + CHUNK]
            cursor.execute(_sql(len(chunk)), [v for row in chunk for v in row])


def rollups_rebuild(*, batch: int = 20000) -> int:
    """Recount every rollup from the status history; return the entries counted."""
    done = 0
    with transaction.atomic():
        DispatchRollup.objects.all().delete()
        history = DispatchStatusChange.objects.order_by("id").values_list(
            "id",
            "at",
            "dispatch__channel",
            "dispatch__communication__category",
            "dispatch__communication__template_code",
            "status",
        )
        last = 0
        while rows := list(history.filter(id__gt=last)[:batch]):
            last = rows[-1][0]
            rollups_add(row[1:] for row in rows)
            done += len(rows)
        # A dispatch is created at its first status.
        firsts = (
            Dispatch.objects.annotate(first=Min("status_changes__at"))
            .filter(first__isnull=False)
            .order_by("id")
            .values_list(
                "id",
                "first",
                "channel",
                "communication__category",
                "communication__template_code",
            )
        )
        last = 0
        while rows := list(firsts.filter(id__gt=last)[:batch]):
            last = rows[-1][0]
            rollups_add((*row[1:], DispatchRollup.CREATED) for row in rows)
            done += len(rows)
    return done
