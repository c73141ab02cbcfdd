"""Incidents by severity: the deadlines, owners and notifications operators set."""

from datetime import timedelta

from channels_app.models import Severity, SeverityPolicy

# Until an operator sets a policy in the admin.
DEFAULT_DEADLINES = {
    Severity.CRITICAL: timedelta(hours=1),
    Severity.HIGH: timedelta(hours=4),
    Severity.MEDIUM: timedelta(days=1),
    Severity.LOW: timedelta(days=3),
}


def deadline_for(severity: str) -> timedelta:
    """Return how long an incident or escalation of this severity may stay open."""
    policy = SeverityPolicy.objects.filter(severity=severity).first()
    if policy is not None:
        return timedelta(minutes=policy.deadline_minutes)
    return DEFAULT_DEADLINES.get(severity, timedelta(days=1))


def deadlines_all() -> dict[str, timedelta]:
    """Return every severity's deadline, read in one query."""
    set_by_operators = {
        severity: timedelta(minutes=minutes)
        for severity, minutes in SeverityPolicy.objects.values_list(
            "severity", "deadline_minutes"
        )
    }
    return {**DEFAULT_DEADLINES, **set_by_operators}
