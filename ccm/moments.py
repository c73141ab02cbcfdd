"""Moments as a reader sees them: in their time zone, with the zone named."""

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.utils import formats, timezone
from django.utils.translation import gettext as _


def moment_parse(value) -> datetime | None:
    """Return a stored moment (datetime or ISO 8601 text) as an aware datetime."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def moment_display(value) -> str:
    """Return a moment in the reader's time zone, the zone named; text as stored."""
    parsed = moment_parse(value)
    if parsed is None:
        return value or ""
    return formats.date_format(timezone.localtime(parsed), "SHORT_DATETIME_FORMAT")


def customer_time(value, zone_name: str) -> str:
    """Return a moment on the customer's clock, with the zone's name.

    Empty when the customer's zone is the reader's: the time beside says it.
    """
    parsed = moment_parse(value)
    if parsed is None or not zone_name:
        return ""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        return ""
    if zone.key == getattr(timezone.get_current_timezone(), "key", None):
        return ""
    local = parsed.astimezone(zone)
    return _("%(time)s for the customer (%(zone)s)") % {
        "time": formats.date_format(local, "SHORT_DATETIME_FORMAT"),
        "zone": zone_name,
    }
