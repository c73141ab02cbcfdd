"""The demo's retention: a shorter period proposed, waiting for a second person."""

from django.contrib.auth.base_user import AbstractBaseUser

from retention import classes
from retention.models import RetentionClass, RetentionClassChange
from templates_app.models import Category


def retention_demo_seed(*, proposer: AbstractBaseUser) -> RetentionClassChange | None:
    """Propose a 90-day class for one-time passcodes, left for another to decide.

    Left open, it erases nothing: the demo's content stays until a second
    records manager approves it. Seeding again changes nothing.
    """
    category = Category.objects.filter(code="security").first()
    if (
        category is None
        or RetentionClass.objects.filter(category=category).exists()
        or RetentionClassChange.objects.filter(category=category).exists()
    ):
        return None
    return classes.retention_class_set(
        actor=proposer,
        category=category,
        name="One-time passcodes (90 days)",
        periods={
            "copies_days": 90,
            "pdfs_days": 90,
            "contacts_days": 365,
            "snapshots_days": 90,
        },
        reason=(
            "A passcode is needed for minutes; its copy and data go after 90 "
            "days, the address after a year for fraud enquiries."
        ),
    )
