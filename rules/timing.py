"""Wall-clock arithmetic in a customer's time zone, correct across DST and dates.

Quiet windows are given as local wall times; an instant is quiet when its local
wall time falls inside the window (a window whose start is later than its end
crosses midnight). The next allowed instant is the first one whose local wall
clock reads the window's end: across a spring-forward gap (the end does not
exist that day) that is the instant the clocks jump; across a fall-back overlap
(the end happens twice) it is the first occurrence still ahead.
"""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache


@lru_cache(maxsize=1024)
def zone(name: str) -> zoneinfo.ZoneInfo:
    """Return the IANA zone `name`, or UTC for a name this system does not know."""
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def in_window(wall: time, start: time, end: time) -> bool:
    """Return whether a local wall time is inside [start, end), maybe over midnight."""
    if start <= end:
        return start <= wall < end
    return wall >= start or wall < end


def _first_at_or_after_wall(day: date, wall: time, tz: zoneinfo.ZoneInfo) -> list:
    """Return the instants (UTC) at which the local clock on `day` reads `wall`.

    A nonexistent wall time (a gap) yields the single instant the clocks jump
    over it; an ambiguous one (an overlap) yields both occurrences, in order.
    """
    naive = datetime.combine(day, wall)
    first = naive.replace(tzinfo=tz)
    earlier, later = first.astimezone(UTC), first.replace(fold=1).astimezone(UTC)
    exists = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive
    if exists:
        return sorted({earlier, later})
    # In a gap, fold=0 reads the wall time with the offset before the jump and
    # fold=1 with the one after; the jump itself lies between the two instants.
    low, high = min(earlier, later), max(earlier, later)
    offset_after = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(tz).utcoffset() == offset_after:
            high = middle
        else:
            low = middle
    return [high.replace(microsecond=0)]


def quiet_until(
    instant: datetime, *, start: time, end: time, tz: zoneinfo.ZoneInfo
) -> datetime | None:
    """Return when a quiet window covering `instant` ends, or None if not quiet."""
    local = instant.astimezone(tz)
    if not in_window(local.time().replace(tzinfo=None), start, end):
        return None
    day = local.date()
    if start > end and local.time() >= start:
        day += timedelta(days=1)
    # Look a few days ahead: a skipped calendar day (Samoa, 2011) has no end.
    for offset in range(3):
        for candidate in _first_at_or_after_wall(day + timedelta(days=offset), end, tz):
            wall = candidate.astimezone(tz).time().replace(tzinfo=None)
            if candidate > instant and not in_window(wall, start, end):
                return candidate
    raise AssertionError(f"no end of quiet hours after {instant} in {tz}")
