"""Vocabulary of the central communication rules that operators manage.

A rule is one of three kinds: quiet hours (no sending between two local times
in the customer's time zone), a frequency cap (at most N per customer within a
window) or de-duplication (one per template, customer and correlation key
within a window). Sequencing (supersedes, waits for) is declared by each
communication, not by a rule row.

Rules are sending logic, so they change under review: an operator proposes a
rule version (a new rule, a change, or its retirement), a different operator
approves or rejects it. A `Rule` is the stable name; its `RuleVersion` rows
hold the values, and the rule in force is its one approved version. Decisions
on dispatches name the rule and that version's number.
"""

from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from templates_app.models import Category, Channel

ANY_CHANNEL = "any"


def codes_split(value: str) -> list[str]:
    """Return the category codes of a comma- or space-separated list."""
    return [code for code in value.replace(",", " ").split() if code]


class Kind(models.TextChoices):
    QUIET_HOURS = "quiet_hours", _("Quiet hours")
    FREQUENCY_CAP = "frequency_cap", _("Frequency cap")
    DEDUPE = "dedupe", _("De-duplication")


class CapMode(models.TextChoices):
    SUPPRESS = "suppress", _("Suppress the excess")
    DEFER = "defer", _("Defer the excess until the window allows")


class Rule(models.Model):
    """A rule's stable name; what it does is its approved version's."""

    # The evaluation reads Rule.Kind and Rule.CapMode; versions share them.
    Kind = Kind
    CapMode = CapMode

    name = models.CharField(
        _("name"),
        max_length=100,
        unique=True,
        help_text=_("Decisions on dispatches name the rule by it; it never changes."),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class RuleVersion(models.Model):
    """One proposed set of values for a rule, and the review it went through.

    The values are frozen once proposed. Approving one supersedes the rule's
    approved version; the evaluation reads approved versions only (their
    attributes are those it reads: name, version, kind, channel, ...).
    """

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("Proposed, awaiting approval")
        APPROVED = "approved", _("Approved, in force")
        SUPERSEDED = "superseded", _("Superseded")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class Change(models.TextChoices):
        CREATE = "create", _("New rule")
        CHANGE = "change", _("Change")
        RETIRE = "retire", _("Retirement")

    Kind = Kind
    CapMode = CapMode

    rule = models.ForeignKey(
        Rule, on_delete=models.PROTECT, related_name="versions", verbose_name=_("rule")
    )
    number = models.PositiveIntegerField(_("version"))
    change = models.CharField(_("change"), max_length=8, choices=Change.choices)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PROPOSED
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    enabled = models.BooleanField(_("enabled"), default=True)
    description = models.TextField(_("description"), blank=True)
    channel = models.CharField(
        _("channel"),
        max_length=16,
        choices=[(ANY_CHANNEL, _("Any channel")), *Channel.choices],
        default=ANY_CHANNEL,
    )
    category_kind = models.CharField(
        _("category kind"),
        max_length=16,
        choices=Category.Kind.choices,
        blank=True,
        help_text=_("Blank: every kind."),
    )
    categories = models.CharField(
        _("categories"),
        max_length=500,
        blank=True,
        help_text=_("Category codes, separated by commas. Blank: every category."),
    )
    quiet_start = models.TimeField(
        _("quiet from"),
        null=True,
        blank=True,
        help_text=_("Local time in the customer's time zone, e.g. 21:00."),
    )
    quiet_end = models.TimeField(
        _("quiet until"),
        null=True,
        blank=True,
        help_text=_("Local time; earlier than the start means the next morning."),
    )
    exempt_mandatory = models.BooleanField(
        _("exempt mandatory categories"),
        default=False,
        help_text=_("Mandatory (regulatory) categories, e.g. passcodes, are exempt."),
    )
    exempt_categories = models.CharField(
        _("exempt categories"),
        max_length=500,
        blank=True,
        help_text=_("Category codes, separated by commas, that this rule exempts."),
    )
    cap_count = models.PositiveIntegerField(
        _("at most"),
        null=True,
        blank=True,
        help_text=_("Messages per customer within the window."),
    )
    window_hours = models.PositiveIntegerField(
        _("window (hours)"),
        null=True,
        blank=True,
        help_text=_("Frequency caps and de-duplication: e.g. 24 (a day), 168."),
    )
    cap_mode = models.CharField(
        _("when over the cap"),
        max_length=16,
        choices=CapMode.choices,
        blank=True,
    )
    reason = models.TextField(_("reason for the change"), blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
        verbose_name=_("proposed by"),
    )
    proposed_at = models.DateTimeField(_("proposed at"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    comment = models.TextField(_("reviewer's comment"), blank=True)

    class Meta:
        verbose_name = _("rule version")
        verbose_name_plural = _("rule versions")
        ordering = ["rule__name", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "number"], name="rules_version_number_unique"
            ),
            models.UniqueConstraint(
                fields=["rule"],
                condition=Q(status="proposed"),
                name="rules_version_one_proposed",
                violation_error_message=_(
                    "A rule has at most one change awaiting approval."
                ),
            ),
            models.UniqueConstraint(
                fields=["rule"],
                condition=Q(status="approved"),
                name="rules_version_one_in_force",
            ),
            # Segregation of duties, whatever writes the row.
            models.CheckConstraint(
                condition=Q(decided_by__isnull=True)
                | Q(proposed_by__isnull=True)
                | ~Q(decided_by=F("proposed_by")),
                name="rules_version_not_self_decided",
                violation_error_message=_(
                    "The operator who proposed a rule change may not approve or "
                    "reject it."
                ),
            ),
        ]

    def __str__(self) -> str:
        # Reasons written on dispatches name the rule through this.
        return self.rule.name

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        # What a reviewer approved is exactly what applies.
        if not self._state.adding and (
            update_fields is None or set(update_fields) - DECISION_FIELDS
        ):
            raise ValueError(
                "a rule version's values are frozen once proposed; only "
                f"{sorted(DECISION_FIELDS)} change"
            )
        super().save(*args, **kwargs)

    @property
    def name(self) -> str:
        return self.rule.name

    @property
    def version(self) -> int:
        """Return the number that decisions on dispatches record."""
        return self.number

    @property
    def label(self) -> str:
        return f"{self.rule.name} v{self.number}"

    @property
    def in_force(self) -> bool:
        """Return whether the evaluation applies this version."""
        return (
            self.status == self.Status.APPROVED
            and self.enabled
            and self.change != self.Change.RETIRE
        )

    # Cached: the evaluation asks once per candidate; versions are loaded anew
    # for every evaluation.
    @cached_property
    def category_codes(self) -> list[str]:
        return codes_split(self.categories)

    @cached_property
    def exempt_codes(self) -> list[str]:
        return codes_split(self.exempt_categories)

    def values(self) -> dict:
        """Return the rule's values as an operator edits them."""
        return {name: getattr(self, name) for name in VALUE_FIELDS}

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == Kind.QUIET_HOURS:
            if self.quiet_start is None:
                errors["quiet_start"] = gettext("Quiet hours need a start time.")
            if self.quiet_end is None:
                errors["quiet_end"] = gettext("Quiet hours need an end time.")
            if self.quiet_start is not None and self.quiet_start == self.quiet_end:
                errors["quiet_end"] = gettext(
                    "The end must differ from the start (a whole day of quiet "
                    "would never send)."
                )
        if self.kind == Kind.FREQUENCY_CAP:
            if not self.cap_count:
                errors["cap_count"] = gettext(
                    "A frequency cap needs a count of at least 1."
                )
            if not self.cap_mode:
                errors["cap_mode"] = gettext(
                    "Say whether the excess is suppressed or deferred."
                )
        if self.kind in (Kind.FREQUENCY_CAP, Kind.DEDUPE) and not self.window_hours:
            errors["window_hours"] = gettext("Give the window in hours (at least 1).")
        if self.kind != Kind.QUIET_HOURS and (
            self.quiet_start is not None or self.quiet_end is not None
        ):
            errors["quiet_start"] = gettext("Only quiet-hours rules have times.")
        if self.kind != Kind.FREQUENCY_CAP and (self.cap_count or self.cap_mode):
            errors["cap_count"] = gettext(
                "Only frequency caps have a count and a mode."
            )
        if self.kind == Kind.DEDUPE and (
            self.exempt_mandatory or self.exempt_categories
        ):
            errors["exempt_categories"] = gettext(
                "De-duplication has no exemptions: a duplicate is never sent."
            )
        known = set(Category.objects.values_list("code", flat=True))
        for field in ("categories", "exempt_categories"):
            unknown = [c for c in codes_split(getattr(self, field)) if c not in known]
            if unknown:
                errors[field] = gettext("Unknown category code(s): %(codes)s.") % {
                    "codes": ", ".join(unknown)
                }
        if errors:
            raise ValidationError(errors)


# What an operator proposes; the rest of a version is its review.
VALUE_FIELDS = (
    "kind",
    "enabled",
    "description",
    "channel",
    "category_kind",
    "categories",
    "quiet_start",
    "quiet_end",
    "exempt_mandatory",
    "exempt_categories",
    "cap_count",
    "window_hours",
    "cap_mode",
)
# What a review writes on a proposed (or, when superseded, approved) version.
DECISION_FIELDS = frozenset({"status", "decided_by", "decided_at", "comment"})

Status = RuleVersion.Status
# Every status change a service may make, and nothing else.
TRANSITIONS: dict[str, frozenset[str]] = {
    Status.PROPOSED: frozenset({Status.APPROVED, Status.REJECTED, Status.WITHDRAWN}),
    Status.APPROVED: frozenset({Status.SUPERSEDED}),
    Status.SUPERSEDED: frozenset(),
    Status.REJECTED: frozenset(),
    Status.WITHDRAWN: frozenset(),
}
# Versions that applied at some time; their count is the rule-set revision.
EVER_APPROVED = (Status.APPROVED, Status.SUPERSEDED)
