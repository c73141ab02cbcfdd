"""What operations hold and handle: pauses, severity policies and incidents.

A pause holds the due dispatches of a template, a category, a channel or a
batch run (`channels_app.pauses` alone sets and lifts one); an incident groups
the failures operations must handle, with the deadline and owner its
severity's policy gives (`channels_app.incidents` alone changes its status).
Re-exported by `channels_app.models`.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    CRITICAL = "critical", _("Critical")


class Pause(models.Model):
    """An operator's switch holding the due dispatches of a template, a category,
    a channel or a batch run: they stay queued, unclaimed, until resumed.

    At most one pause is active per scope and value; a resumed pause is kept
    as the record of the hold.
    """

    class Scope(models.TextChoices):
        TEMPLATE = "template", _("Template")
        CATEGORY = "category", _("Category")
        CHANNEL = "channel", _("Channel")
        BATCH = "batch", _("Batch run")

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    # A template or category code, a channel, or a batch run's id.
    value = models.CharField(_("paused"), max_length=100)
    reason = models.TextField(_("reason"))
    paused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("paused by"),
    )
    paused_at = models.DateTimeField(_("paused at"), default=timezone.now)
    resumed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resumed by"),
    )
    resumed_at = models.DateTimeField(_("resumed at"), null=True, blank=True)
    resume_reason = models.TextField(_("resume reason"), blank=True)

    class Meta:
        verbose_name = _("pause")
        verbose_name_plural = _("pauses")
        ordering = ["-paused_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope", "value"],
                condition=models.Q(resumed_at__isnull=True),
                name="pause_one_active_per_value",
            )
        ]
        indexes = [
            models.Index(
                fields=["scope"],
                name="pause_active_idx",
                condition=models.Q(resumed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_scope_display()} {self.value}"

    @property
    def active(self) -> bool:
        return self.resumed_at is None


class SeverityPolicy(models.Model):
    """What a severity asks of operations: a deadline, an owner group, who is told."""

    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, unique=True
    )
    deadline_minutes = models.PositiveIntegerField(_("deadline (minutes)"))
    owner_group = models.ForeignKey(
        "auth.Group",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner group"),
    )
    notify = models.BooleanField(_("email the owner group"), default=True)
    on_call = models.TextField(
        _("on-call emails"),
        blank=True,
        help_text=_("One address a line; told of every incident of this severity."),
    )

    class Meta:
        verbose_name = _("severity policy")
        verbose_name_plural = _("severity policies")

    def __str__(self) -> str:
        return self.get_severity_display()


class Incident(models.Model):
    """Something operations must handle, opened or joined by the errors it groups.

    One incident is open at a time per key (a channel's provider refusals, a
    template's complaints, a batch's refused rows), so a storm of failures is
    one incident, counted, not one per dispatch.
    """

    class Kind(models.TextChoices):
        RENDER_FAILURE = "render_failure", _("Render failure")
        PROVIDER_REFUSAL = "provider_refusal", _("Provider refusal")
        BOUNCE_STORM = "bounce_storm", _("Bounce storm")
        COMPLAINTS = "complaints", _("Complaints about a template")
        BATCH_REFUSALS = "batch_refusals", _("Batch with many refused rows")
        STUCK_QUEUE = "stuck_queue", _("Stuck queue")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")

    TRANSITIONS = {
        Status.OPEN: {Status.ACKNOWLEDGED, Status.RESOLVED},
        Status.ACKNOWLEDGED: {Status.RESOLVED},
        Status.RESOLVED: set(),
    }

    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    key = models.CharField(_("key"), max_length=200)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    title = models.CharField(_("title"), max_length=300)
    template_code = models.CharField(_("template"), max_length=100, blank=True)
    batch = models.ForeignKey(
        "channels_app.Batch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="incidents",
        verbose_name=_("batch run"),
    )
    dispatches = models.ManyToManyField(
        "channels_app.Dispatch",
        blank=True,
        related_name="incidents",
        verbose_name=_("dispatches"),
    )
    occurrences = models.PositiveIntegerField(_("occurrences"), default=0)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner"),
    )
    owner_group = models.ForeignKey(
        "auth.Group",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("owner group"),
    )
    notes = models.TextField(_("notes"), blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    opened = models.DateTimeField(_("opened"), default=timezone.now)
    deadline = models.DateTimeField(_("deadline"))
    acknowledged = models.DateTimeField(_("acknowledged"), null=True, blank=True)
    resolved = models.DateTimeField(_("resolved"), null=True, blank=True)
    notified = models.DateTimeField(_("notified"), null=True, blank=True)

    class Meta:
        verbose_name = _("incident")
        verbose_name_plural = _("incidents")
        ordering = ["-opened", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=~models.Q(status="resolved"),
                name="incident_one_active_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_severity_display()}: {self.title}"
