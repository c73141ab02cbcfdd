"""Every write of a retention class, audited with what it was and became.

A shorter period takes effect at the next retention run, so what the change
lets expire is erased then; the audit event is the record of who decided it.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from audit.services import event_record
from retention.models import PART_FIELDS, RetentionClass


def _snapshot(retention_class: RetentionClass) -> dict:
    category = retention_class.category
    return {
        "name": retention_class.name,
        "category": category.code if category is not None else None,
        **{name: getattr(retention_class, name) for name in PART_FIELDS.values()},
    }


@transaction.atomic
def retention_class_save(
    *, retention_class: RetentionClass, actor: AbstractBaseUser | None
) -> RetentionClass:
    """Create or change a retention class; audit the values before and after."""
    codename = "change" if retention_class.pk else "add"
    if actor is not None and not (
        actor.is_active and actor.has_perm(f"retention.{codename}_retentionclass")
    ):
        raise PermissionDenied(
            _("%(user)s may not set retention classes.") % {"user": actor}
        )
    retention_class.full_clean()
    before = None
    if retention_class.pk:
        before = _snapshot(
            RetentionClass.objects.select_for_update(of=("self",))
            .select_related("category")
            .get(pk=retention_class.pk)
        )
    retention_class.save()
    after = _snapshot(retention_class)
    if before == after:
        return retention_class
    event_record(
        action="retention.class.changed",
        actor=actor,
        subject=retention_class,
        before=before,
        after=after,
    )
    return retention_class
