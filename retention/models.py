"""Vocabulary of retention: how long personal content is kept, what may not be
erased (legal holds), and the record of each erasing run."""

from datetime import datetime, time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ccm.bidi import sequence
from ccm.proposals import FourEyesProposal
from channels_app.models import ContentPart
from customers.models import Customer
from templates_app.models import Category, TemplateVersion

# The fields of a retention class that keep one ContentPart, by part.
PART_FIELDS = {
    ContentPart.COPY: "copies_days",
    ContentPart.PDF: "pdfs_days",
    ContentPart.CONTACT: "contacts_days",
    ContentPart.SNAPSHOT: "snapshots_days",
}
# What the default class keeps until operators decide: ten years, the longest
# duty of the financial record-keeping rules it serves.
DEFAULT_DAYS = 3653


def _days_field(label: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(
        label,
        null=True,
        blank=True,
        help_text=_("Days after the dispatch was created; empty: kept for ever."),
    )


class RetentionClass(models.Model):
    """How long one category's dispatches keep each kind of personal content.

    The class without a category is the default: it applies to every category
    that has no class of its own. Each period counts from the dispatch's
    creation; when it ends, the next retention run erases that part.
    """

    name = models.CharField(_("name"), max_length=200)
    category = models.OneToOneField(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="retention_class",
        verbose_name=_("category"),
        help_text=_("Empty: the default class, for categories without their own."),
    )
    copies_days = _days_field(_("stored copies (days)"))
    pdfs_days = _days_field(_("letter PDFs (days)"))
    contacts_days = _days_field(_("contact data (days)"))
    snapshots_days = _days_field(_("data snapshots (days)"))
    changed = models.DateTimeField(_("changed"), auto_now=True)

    class Meta:
        verbose_name = _("retention class")
        verbose_name_plural = _("retention classes")
        ordering = ["category__name", "id"]
        constraints = [
            # One default class: a unique constraint on a constant among the
            # rows without a category.
            models.UniqueConstraint(
                models.Value(1),
                condition=models.Q(category__isnull=True),
                name="retention_one_default_class",
            )
        ]

    def __str__(self) -> str:
        return self.name

    def days(self, part: int) -> int | None:
        """Return how many days this class keeps a ContentPart (None: for ever)."""
        return getattr(self, PART_FIELDS[part])

    def period_list(self) -> list[int | None]:
        """Return the periods in days: copies, PDFs, contact data, snapshots."""
        return [self.days(part) for part in PART_FIELDS]


def periods_shortened(before: dict, after: dict) -> list[str]:
    """Return the period fields `after` keeps for less time than `before`.

    An empty period keeps for ever, so any number shortens it.
    """
    return [
        name
        for name in PART_FIELDS.values()
        if after.get(name) is not None
        and (before.get(name) is None or after[name] < before[name])
    ]


class RetentionClassChange(FourEyesProposal):
    """A proposed retention class that keeps some content for less time.

    A shorter period makes the next run erase content for good, so it takes
    effect only when someone other than the proposer approves it. The proposal
    names the class by its category (none: the default class); without a
    `retention_class` it creates the category's first class.
    """

    retention_class = models.ForeignKey(
        RetentionClass,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
        verbose_name=_("retention class"),
        help_text=_("Empty: the proposal creates the category's class."),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("category"),
        help_text=_("Empty: the default class."),
    )
    name = models.CharField(_("name"), max_length=200)
    copies_days = _days_field(_("proposed stored copies (days)"))
    pdfs_days = _days_field(_("proposed letter PDFs (days)"))
    contacts_days = _days_field(_("proposed contact data (days)"))
    snapshots_days = _days_field(_("proposed data snapshots (days)"))
    # The periods in force for the category when proposed; approval refuses
    # a proposal made against periods that have changed since.
    before = models.JSONField(_("periods when proposed"), default=dict)

    class Meta:
        verbose_name = _("retention class change")
        verbose_name_plural = _("retention class changes")
        ordering = ["-proposed_at", "-pk"]
        permissions = [
            (
                "approve_retentionclasschange",
                _("Can approve a shorter retention period"),
            )
        ]
        constraints = [
            # One open proposal per class: per category, the default counted
            # as category 0.
            models.UniqueConstraint(
                Coalesce(
                    "category", models.Value(0), output_field=models.BigIntegerField()
                ),
                condition=Q(status="proposed"),
                name="retention_one_open_class_change",
                violation_error_message=_(
                    "A retention class has at most one proposed change at a time."
                ),
            ),
            # Four eyes, even for a write that bypasses the service.
            models.CheckConstraint(
                condition=~Q(status="approved", decided_by=F("proposer")),
                name="retention_class_change_not_self_approved",
                violation_error_message=_(
                    "Who proposed a retention class change may not approve it."
                ),
            ),
            models.CheckConstraint(
                condition=Q(status="proposed")
                | Q(decided_by__isnull=False, decided_at__isnull=False),
                name="retention_class_change_decided_by",
            ),
        ]

    def __str__(self) -> str:
        return gettext("%(name)s: %(values)s (%(status)s)") % {
            "name": self.name,
            "values": ", ".join(
                f"{self._meta.get_field(name).verbose_name} "
                + sequence(self.before.get(name), getattr(self, name))
                for name in PART_FIELDS.values()
                if self.before.get(name) != getattr(self, name)
            ),
            "status": self.get_status_display(),
        }

    def periods(self) -> dict:
        """Return the periods this proposal would give the class."""
        return {name: getattr(self, name) for name in PART_FIELDS.values()}

    def period_rows(self) -> list[tuple[str, int | None, int | None, bool]]:
        """Return (part, days when proposed, days proposed, shorter) per part."""
        shorter = set(periods_shortened(self.before, self.periods()))
        return [
            (
                RetentionClass._meta.get_field(name).verbose_name,
                self.before.get(name),
                getattr(self, name),
                name in shorter,
            )
            for name in PART_FIELDS.values()
        ]


class LegalHold(models.Model):
    """An order to keep everything it covers: nothing under it is erased, by
    retention or on request, until someone other than who placed it releases it.

    A released hold stays as the record of the hold.
    """

    class Scope(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        TEMPLATE_VERSION = "template_version", _("Template version")
        CATEGORY = "category", _("Category")
        DATE_RANGE = "date_range", _("Date range")

    # The field that names what each scope holds.
    TARGETS = {
        Scope.CUSTOMER: ("customer",),
        Scope.TEMPLATE_VERSION: ("template_version",),
        Scope.CATEGORY: ("category",),
        Scope.DATE_RANGE: ("starts", "ends"),
    }

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_holds",
        verbose_name=_("customer"),
    )
    template_version = models.ForeignKey(
        TemplateVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_holds",
        verbose_name=_("template version"),
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="legal_holds",
        verbose_name=_("category"),
    )
    starts = models.DateField(_("from"), null=True, blank=True)
    ends = models.DateField(_("until"), null=True, blank=True)
    reason = models.TextField(_("reason"))
    reference = models.CharField(_("reference (case number)"), max_length=200)
    placed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("placed by"),
    )
    placed_at = models.DateTimeField(_("placed at"), default=timezone.now)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("released by"),
    )
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    release_reason = models.TextField(_("release reason"), blank=True)

    class Meta:
        verbose_name = _("legal hold")
        verbose_name_plural = _("legal holds")
        ordering = ["-placed_at", "-id"]
        permissions = [("release_legalhold", _("Can release a legal hold"))]
        indexes = [
            models.Index(
                fields=["scope"],
                name="legalhold_active_idx",
                condition=models.Q(released_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.reference}: {self.target_label()}"

    @property
    def active(self) -> bool:
        return self.released_at is None

    def target_label(self) -> str:
        """Return what the hold covers, as a reader names it."""
        if self.scope == self.Scope.DATE_RANGE:
            return f"{self.starts} – {self.ends}"
        target = getattr(self, self.TARGETS.get(self.scope, ("customer",))[0])
        return str(target) if target is not None else ""

    def clean(self) -> None:
        """Require exactly the target its scope names, and a range in order."""
        if self.scope not in self.TARGETS:
            return
        wanted = set(self.TARGETS[self.scope])
        errors = {}
        for names in self.TARGETS.values():
            for name in names:
                value = getattr(self, f"{name}_id", getattr(self, name))
                if name in wanted and value is None:
                    errors[name] = _("A hold on this scope names it.")
                elif name not in wanted and value is not None:
                    errors[name] = _("Leave empty: the hold's scope is another.")
        if (
            not errors
            and self.scope == self.Scope.DATE_RANGE
            and self.starts > self.ends
        ):
            errors["ends"] = _("The range ends before it starts.")
        if errors:
            raise ValidationError(errors)

    def window(self) -> tuple[datetime, datetime]:
        """Return a date range hold's [start, end) in the project's time zone."""
        zone = timezone.get_current_timezone()
        start = datetime.combine(self.starts, time.min, tzinfo=zone)
        end = datetime.combine(self.ends + timedelta(days=1), time.min, tzinfo=zone)
        return start, end


class RetentionRun(models.Model):
    """One pass of the retention job: what it erased, what it kept and why.

    Counts are updated after every chunk, so a running run shows its progress.
    At most one run is running at a time.
    """

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.RUNNING
    )
    started = models.DateTimeField(_("started"), default=timezone.now)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    # What expired is measured against this time (the run's start).
    as_of = models.DateTimeField(_("as of"))
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("started by"),
    )
    examined = models.PositiveBigIntegerField(_("examined"), default=0)
    dispatches = models.PositiveBigIntegerField(_("dispatches erased"), default=0)
    copies = models.PositiveBigIntegerField(_("copies erased"), default=0)
    pdfs = models.PositiveBigIntegerField(_("PDFs erased"), default=0)
    contacts = models.PositiveBigIntegerField(_("contacts erased"), default=0)
    snapshots = models.PositiveBigIntegerField(_("snapshots erased"), default=0)
    held = models.PositiveBigIntegerField(_("kept under hold"), default=0)
    busy = models.PositiveBigIntegerField(
        _("left for the next run"),
        default=0,
        help_text=_("Still being sent, or locked by a sender at the time."),
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("retention run")
        verbose_name_plural = _("retention runs")
        ordering = ["-started", "-id"]
        permissions = [("run_retention", _("Can start a retention run"))]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="retention_one_running_run",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.started:%Y-%m-%d %H:%M}"
