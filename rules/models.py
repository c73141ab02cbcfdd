"""Vocabulary of the central communication rules that operators manage.

A rule is one of three kinds: quiet hours (no sending between two local times
in the customer's time zone), a frequency cap (at most N per customer within a
window) or de-duplication (one per template, customer and correlation key
within a window). Sequencing (supersedes, waits for) is declared by each
communication, not by a rule row. Every save bumps `version`, which every
decision records; django-simple-history keeps each version.
"""

from functools import cached_property

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from templates_app.models import Category, Channel

ANY_CHANNEL = "any"


def codes_split(value: str) -> list[str]:
    """Return the category codes of a comma- or space-separated list."""
    return [code for code in value.replace(",", " ").split() if code]


class Rule(models.Model):
    """One rule applied to every dispatch before it is queued and when it is due."""

    class Kind(models.TextChoices):
        QUIET_HOURS = "quiet_hours", _("Quiet hours")
        FREQUENCY_CAP = "frequency_cap", _("Frequency cap")
        DEDUPE = "dedupe", _("De-duplication")

    class CapMode(models.TextChoices):
        SUPPRESS = "suppress", _("Suppress the excess")
        DEFER = "defer", _("Defer the excess until the window allows")

    name = models.CharField(_("name"), max_length=100, unique=True)
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
    version = models.PositiveIntegerField(_("version"), default=1, editable=False)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    updated = models.DateTimeField(_("updated"), auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name

    # Cached: the evaluation asks once per candidate; a rule row is loaded anew
    # for every evaluation.
    @cached_property
    def category_codes(self) -> list[str]:
        return codes_split(self.categories)

    @cached_property
    def exempt_codes(self) -> list[str]:
        return codes_split(self.exempt_categories)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind == self.Kind.QUIET_HOURS:
            if self.quiet_start is None:
                errors["quiet_start"] = gettext("Quiet hours need a start time.")
            if self.quiet_end is None:
                errors["quiet_end"] = gettext("Quiet hours need an end time.")
            if self.quiet_start is not None and self.quiet_start == self.quiet_end:
                errors["quiet_end"] = gettext(
                    "The end must differ from the start (a whole day of quiet "
                    "would never send)."
                )
        if self.kind == self.Kind.FREQUENCY_CAP:
            if not self.cap_count:
                errors["cap_count"] = gettext(
                    "A frequency cap needs a count of at least 1."
                )
            if not self.cap_mode:
                errors["cap_mode"] = gettext(
                    "Say whether the excess is suppressed or deferred."
                )
        if (
            self.kind in (self.Kind.FREQUENCY_CAP, self.Kind.DEDUPE)
            and not self.window_hours
        ):
            errors["window_hours"] = gettext("Give the window in hours (at least 1).")
        if self.kind != self.Kind.QUIET_HOURS and (
            self.quiet_start is not None or self.quiet_end is not None
        ):
            errors["quiet_start"] = gettext("Only quiet-hours rules have times.")
        if self.kind != self.Kind.FREQUENCY_CAP and (self.cap_count or self.cap_mode):
            errors["cap_count"] = gettext(
                "Only frequency caps have a count and a mode."
            )
        if self.kind == self.Kind.DEDUPE and (
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
