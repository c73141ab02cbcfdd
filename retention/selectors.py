"""What the operations pages show of retention: holds, classes, proposed
periods, recent runs."""

from django.db.models import QuerySet

from retention.models import (
    LegalHold,
    RetentionClass,
    RetentionClassChange,
    RetentionRun,
)


def holds_listed(*, active: bool) -> QuerySet:
    """Return the active holds (oldest first), or the released ones (newest first)."""
    holds = LegalHold.objects.select_related(
        "customer",
        "template_version__template",
        "category",
        "placed_by",
        "released_by",
    )
    if active:
        return holds.filter(released_at__isnull=True).order_by("placed_at", "id")
    return holds.filter(released_at__isnull=False).order_by("-released_at", "-id")


def classes_listed() -> QuerySet:
    """Return the retention classes, the default first."""
    return RetentionClass.objects.select_related("category").order_by(
        "category__name", "id"
    )


def class_changes_open() -> QuerySet:
    """Return the proposed retention periods waiting for a decision, oldest first."""
    return (
        RetentionClassChange.objects.filter(status=RetentionClassChange.Status.PROPOSED)
        .select_related("category", "proposer")
        .order_by("proposed_at", "id")
    )


def runs_recent(limit: int = 10) -> QuerySet:
    """Return the latest retention runs, newest first."""
    return RetentionRun.objects.order_by("-started", "-id")[:limit]
