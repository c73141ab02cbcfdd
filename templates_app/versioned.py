"""The versioned-workflow base shared by template versions and block versions.

The states and their allowed transitions, and the abstract models that refuse
any status write the workflow services did not make and any change to what a
submitted version froze.
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded")
    RETIRED = "retired", _("Retired")


# The review workflow: every status change a service may make, and nothing else.
# Rejected, superseded and retired are final; a rejected version's author starts
# a new draft from it instead.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.DRAFT: frozenset({Status.IN_REVIEW}),
    Status.IN_REVIEW: frozenset({Status.DRAFT, Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.SUPERSEDED, Status.RETIRED}),
    Status.REJECTED: frozenset(),
    Status.SUPERSEDED: frozenset(),
    Status.RETIRED: frozenset(),
}

# Content may change only while a version is a draft; from submission on it is
# frozen, so what a reviewer approves is exactly what is sent.
EDITABLE_STATUSES = frozenset({Status.DRAFT})
# Versions that may be worked on; a template or block has at most one at a time.
OPEN_STATUSES = frozenset({Status.DRAFT, Status.IN_REVIEW})
# Versions that were approved once; their effective range says when they applied.
EVER_APPROVED_STATUSES = frozenset({Status.APPROVED, Status.SUPERSEDED, Status.RETIRED})


class StatusWriteRefused(Exception):
    """A status was written outside the workflow services."""


class ContentFrozen(Exception):
    """Content of a submitted version was about to change."""


class WorkflowQuerySet(models.QuerySet):
    """Refuse bulk writes of the status, which would bypass the workflow."""

    def update(self, **kwargs):
        if "status" in kwargs:
            raise StatusWriteRefused(
                gettext("Status changes go through the workflow services only.")
            )
        frozen = set(kwargs) & set(self.model.frozen_fields)
        if frozen and self.exclude(status__in=EDITABLE_STATUSES).exists():
            raise ContentFrozen(
                gettext("%(fields)s of a submitted version cannot change.")
                % {"fields": ", ".join(sorted(frozen))}
            )
        return super().update(**kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        if "status" in fields:
            raise StatusWriteRefused(
                gettext("Status changes go through the workflow services only.")
            )
        return super().bulk_update(objs, fields, *args, **kwargs)

    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        if any(obj.status != Status.DRAFT for obj in objs):
            raise StatusWriteRefused(gettext("A version starts as a draft."))
        return super().bulk_create(objs, *args, **kwargs)


class WorkflowGuarded(models.Model):
    """A versioned row whose status only the workflow services may change.

    A service marks the one transition it makes with `transition_allow()`; any
    other save that would change the stored status is refused, as is a version
    created in any status but draft, or the deletion of a submitted version.
    """

    objects = WorkflowQuerySet.as_manager()
    # Fields besides the content rows that freeze with the version.
    frozen_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        target = self.__dict__.pop("_status_target", None)
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "status" in update_fields:
            self._status_write_check(target)
        if not self._state.adding and (
            update_fields is None or set(update_fields) & set(self.frozen_fields)
        ):
            self._frozen_fields_check()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        stored = (
            type(self)
            ._base_manager.filter(pk=self.pk)
            .values_list("status", flat=True)
            .first()
        )
        if stored is not None and stored not in EDITABLE_STATUSES:
            raise ContentFrozen(
                gettext("Only a draft can be deleted; %(version)s is %(status)s.")
                % {"version": self, "status": stored}
            )
        return super().delete(*args, **kwargs)

    def transition_allow(self, target: str) -> None:
        """Let the next save move this version to `target`, if the rules allow."""
        self._status_target = target

    def _frozen_fields_check(self) -> None:
        attnames = [self._meta.get_field(name).attname for name in self.frozen_fields]
        stored = (
            type(self)
            ._base_manager.filter(pk=self.pk)
            .values("status", *attnames)
            .first()
        )
        if stored is None or stored["status"] in EDITABLE_STATUSES:
            return
        changed = [
            name
            for name, attname in zip(self.frozen_fields, attnames, strict=True)
            if stored[attname] != getattr(self, attname)
        ]
        if changed:
            raise ContentFrozen(
                gettext("%(version)s is %(status)s; its %(fields)s are frozen with it.")
                % {
                    "version": self,
                    "status": stored["status"],
                    "fields": ", ".join(changed),
                }
            )

    def _status_write_check(self, target: str | None) -> None:
        if self._state.adding:
            if self.status != Status.DRAFT:
                raise StatusWriteRefused(
                    gettext("A version starts as a draft, not %(status)s.")
                    % {"status": self.status}
                )
            return
        stored = (
            type(self)
            ._base_manager.filter(pk=self.pk)
            .values_list("status", flat=True)
            .first()
        )
        if stored is None or stored == self.status:
            return
        if target != self.status or self.status not in TRANSITIONS[stored]:
            raise StatusWriteRefused(
                gettext(
                    "The status of %(version)s cannot be written from %(before)s "
                    "to %(after)s outside the workflow services."
                )
                % {"version": self, "before": stored, "after": self.status}
            )


class WorkflowVersion(WorkflowGuarded):
    """The fields every reviewed version shares: template and block versions alike.

    One workflow (`templates_app.workflow`) moves both through TRANSITIONS; the
    columns it stamps live here so the two kinds cannot drift apart.
    """

    Status = Status

    number = models.PositiveIntegerField(_("number"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("author"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    content_hash = models.CharField(_("content hash"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    rejection_reason = models.TextField(_("rejection reason"), blank=True)

    class Meta:
        abstract = True

    @property
    def is_editable(self) -> bool:
        return self.status in EDITABLE_STATUSES


class FrozenWithVersion(models.Model):
    """A row of a version's content, writable only while the version is a draft."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self._frozen_check()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._frozen_check()
        return super().delete(*args, **kwargs)

    def _frozen_check(self) -> None:
        field = self._meta.get_field("version")
        stored = (
            field.related_model._base_manager.filter(pk=self.version_id)
            .values_list("status", flat=True)
            .first()
        )
        if stored is not None and stored not in EDITABLE_STATUSES:
            raise ContentFrozen(
                gettext(
                    "The version is %(status)s; its content and pinned blocks "
                    "are frozen."
                )
                % {"status": stored}
            )
