"""Vocabulary of everything that leaves the building.

Communications (one request) and dispatches (one delivery on one channel, the
outbox row that workers claim), attempts, escalations and batch runs. The
customers, their preference ledger and suppressions live in `customers`.
"""

import uuid
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ccm.bidi import sequence

# The API's own records: idempotency keys, replayed receipts, queued triggers.
from channels_app.api_models import (  # noqa: F401 (re-exported)
    IdempotencyRecord,
    ReceiptSeen,
    TriggerIntake,
)

# What operations hold and handle.
from channels_app.control_models import (  # noqa: F401 (re-exported)
    Incident,
    Pause,
    Severity,
    SeverityPolicy,
)
from channels_app.rollup_models import DispatchRollup  # noqa: F401 (re-exported)

# One vocabulary of channels and languages for authoring and sending.
# Old migrations name the validator here.
from customers.models import Customer, validate_time_zone  # noqa: F401
from templates_app.models import Channel, Language

# A schedule is a time a message can still matter: the far past and the end of
# the calendar overflow the time-zone and quiet-hours arithmetic.
SCHEDULE_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
SCHEDULE_HORIZON = timedelta(days=3653)


def validate_schedule(value: datetime | None) -> None:
    """Refuse a schedule before 2000 or more than ten years ahead."""
    if value is None:
        return
    latest = timezone.now() + SCHEDULE_HORIZON
    if not SCHEDULE_EARLIEST <= value <= latest:
        raise ValidationError(
            _("A schedule must lie between %(earliest)s and %(latest)s."),
            code="schedule_range",
            params={
                "earliest": SCHEDULE_EARLIEST.date().isoformat(),
                "latest": latest.date().isoformat(),
            },
        )


class Communication(models.Model):
    """One request to tell a customer something, on one or more channels.

    Every dispatch of a communication is rendered from one template version and
    one data snapshot, so the channels cannot contradict each other.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # As long as the code it copies (templates_app.Template.code).
    template_code = models.CharField(_("template"), max_length=100)
    category = models.CharField(_("category"), max_length=64)
    # Frozen at trigger time: a regulatory notice stays mandatory for its life.
    mandatory = models.BooleanField(_("mandatory"), default=False)
    template_version = models.ForeignKey(
        "templates_app.TemplateVersion",
        on_delete=models.PROTECT,
        related_name="communications",
        verbose_name=_("template version"),
    )
    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="communications",
        verbose_name=_("customer"),
    )
    data = models.JSONField(_("data snapshot"))
    source_system = models.CharField(_("source system"), max_length=100, blank=True)
    source_reference = models.CharField(_("source record"), max_length=200, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requester_label = models.CharField(_("requester"), max_length=200)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, blank=True)
    scope = models.CharField(_("product or account"), max_length=100, blank=True)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    reissue_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reissues",
        verbose_name=_("reissue of"),
    )
    reason = models.TextField(_("reason"), blank=True)
    # Sequencing: an account or case number shared by related communications.
    correlation_key = models.CharField(_("correlation key"), max_length=200, blank=True)
    # Template codes whose pending communications to this customer (with the
    # same correlation key, when one is given) this one cancels.
    supersedes = models.JSONField(_("supersedes"), default=list, blank=True)
    # Template codes that must have been sent (no pending one left for this
    # customer and correlation key) before this one goes.
    waits_for = models.JSONField(_("waits for"), default=list, blank=True)
    batch = models.ForeignKey(
        "Batch",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="communications",
        verbose_name=_("batch"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("communication")
        verbose_name_plural = _("communications")
        indexes = [
            models.Index(
                fields=["customer", "-created"], name="communication_cust_idx"
            ),
            models.Index(
                fields=["customer", "template_code", "correlation_key"],
                name="communication_seq_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{sequence(self.template_code, self.customer_id)} ({self.public_id})"


class ContentPart(models.IntegerChoices):
    """A kind of personal content a dispatch holds, erased on its own clock.

    Values are bits of `Dispatch.erased_parts`.
    """

    COPY = 1, _("Stored copy (email and SMS text)")
    PDF = 2, _("Letter PDF")
    CONTACT = 4, _("Contact data (address used)")
    SNAPSHOT = 8, _("Data snapshot")


CONTENT_PARTS_ALL = sum(ContentPart.values)


class ErasureCause(models.TextChoices):
    RETENTION = "retention", _("Retention period ended")
    REQUEST = "request", _("Data subject's erasure request")


class Dispatch(models.Model):
    """One delivery on one channel: the outbox row workers claim and send."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        DELIVERED = "delivered", _("Delivered")
        BOUNCED = "bounced", _("Bounced")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")
        CANCELLED = "cancelled", _("Cancelled")
        # The recipient reported it as spam (a mailbox provider's complaint).
        COMPLAINED = "complained", _("Complained (spam report)")

    # Where a status may go next; anything else is refused by the services.
    TRANSITIONS = {
        Status.QUEUED: {Status.SENDING, Status.CANCELLED, Status.SUPPRESSED},
        Status.SENDING: {Status.SENT, Status.QUEUED, Status.FAILED},
        Status.SENT: {
            Status.DELIVERED,
            Status.BOUNCED,
            Status.FAILED,
            Status.COMPLAINED,
        },
        Status.DELIVERED: {Status.BOUNCED, Status.COMPLAINED},
        Status.COMPLAINED: set(),
        Status.BOUNCED: set(),
        Status.FAILED: {Status.QUEUED},
        Status.SUPPRESSED: set(),
        Status.CANCELLED: set(),
    }

    communication = models.ForeignKey(
        Communication,
        on_delete=models.PROTECT,
        related_name="dispatches",
        verbose_name=_("communication"),
    )
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    # The communication's, copied by lifecycle.dispatches_open: the dashboard
    # filters the queued rows' index by it, with no join.
    category = models.CharField(_("category"), max_length=64, editable=False)
    language = models.CharField(_("language"), max_length=8, choices=Language.choices)
    address = models.TextField(_("address used"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    status_changed = models.DateTimeField(_("status changed"))
    due_at = models.DateTimeField(_("due at"))
    lease_until = models.DateTimeField(_("lease until"), null=True, blank=True)
    attempt_count = models.PositiveSmallIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveSmallIntegerField(_("attempt cap"), default=5)
    subject = models.TextField(_("subject"), blank=True)
    body_html = models.TextField(_("HTML"), blank=True)
    body_text = models.TextField(_("text"), blank=True)
    letter_pdf = models.FileField(
        _("letter PDF"), upload_to="letters/%Y/%m/", blank=True
    )
    content_sha256 = models.CharField(_("content SHA-256"), max_length=64)
    block_versions = models.JSONField(_("content block versions"), default=dict)
    provider_message_id = models.CharField(
        _("provider message id"), max_length=255, blank=True
    )
    error = models.TextField(_("last error"), blank=True)
    severity = models.CharField(
        _("severity"), max_length=16, choices=Severity.choices, blank=True
    )
    decision = models.TextField(_("decision"), blank=True)
    # Every central-rule decision, oldest first: {"rule", "version", "outcome",
    # "reason", "stage", "at"}; outcome is deferred, capped, superseded,
    # deduplicated, exempted or held.
    rule_decisions = models.JSONField(_("rule decisions"), default=list, blank=True)
    resend_of = models.ForeignKey(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="resends",
        verbose_name=_("resend of"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    # The personal content erased so far (ContentPart bits), when last and why;
    # the record itself (dates, status, version, hash) stays. Written only by
    # `retention.erasure`.
    erased_parts = models.PositiveSmallIntegerField(_("erased parts"), default=0)
    content_erased_at = models.DateTimeField(
        _("content erased at"), null=True, blank=True
    )
    content_erased_cause = models.CharField(
        _("erasure cause"), max_length=16, choices=ErasureCause.choices, blank=True
    )

    class Meta:
        verbose_name = _("dispatch")
        verbose_name_plural = _("dispatches")
        indexes = [
            # The claim query (one channel's due queued rows, oldest first),
            # the queue metrics per channel, and the expired leases.
            models.Index(
                fields=["channel", "due_at"],
                name="dispatch_channel_due_idx",
                condition=models.Q(status="queued"),
                # The dashboard's queue figures read the index alone.
                include=["attempt_count", "category"],
            ),
            models.Index(
                fields=["lease_until"],
                name="dispatch_lease_idx",
                condition=models.Q(status="sending"),
            ),
            models.Index(fields=["status", "-created"], name="dispatch_status_idx"),
            # The retention run walks what still holds personal content, oldest
            # first; fully erased rows leave the index.
            models.Index(
                fields=["created", "id"],
                name="dispatch_unerased_idx",
                condition=models.Q(erased_parts__lt=CONTENT_PARTS_ALL),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.channel} {self.status}"

    def erased(self, part: int) -> bool:
        """Return whether the given ContentPart of this dispatch was erased."""
        return bool(self.erased_parts & part)


class DispatchStatusChange(models.Model):
    """One status a dispatch took, with when and why."""

    dispatch = models.ForeignKey(
        Dispatch,
        on_delete=models.CASCADE,
        related_name="status_changes",
        verbose_name=_("dispatch"),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Dispatch.Status.choices
    )
    at = models.DateTimeField(_("at"))
    detail = models.TextField(_("detail"), blank=True)

    class Meta:
        verbose_name = _("status change")
        verbose_name_plural = _("status changes")
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"#{self.dispatch_id} {self.status} @ {self.at:%Y-%m-%d %H:%M:%S}"


class DispatchAttempt(models.Model):
    """One try at handing a dispatch to its provider."""

    class Outcome(models.TextChoices):
        SENT = "sent", _("Sent")
        TRANSIENT = "transient", _("Transient error (retried)")
        PERMANENT = "permanent", _("Permanent error")

    dispatch = models.ForeignKey(
        Dispatch,
        on_delete=models.CASCADE,
        related_name="attempts",
        verbose_name=_("dispatch"),
    )
    number = models.PositiveSmallIntegerField(_("number"))
    started = models.DateTimeField(_("started"))
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    error = models.TextField(_("error"), blank=True)
    worker = models.CharField(_("worker"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("attempt")
        verbose_name_plural = _("attempts")
        constraints = [
            models.UniqueConstraint(
                fields=["dispatch", "number"], name="attempt_unique_number"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.dispatch_id}/{self.number} {self.outcome}"


class Escalation(models.Model):
    """A failure or complaint that operations must look at."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        RESOLVED = "resolved", _("Resolved")

    dispatch = models.ForeignKey(
        Dispatch,
        on_delete=models.PROTECT,
        related_name="escalations",
        verbose_name=_("dispatch"),
    )
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    opened = models.DateTimeField(_("opened"), auto_now_add=True)
    resolved = models.DateTimeField(_("resolved"), null=True, blank=True)
    # First-contact resolution: a complaint resolved by the agent who took it.
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )

    class Meta:
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        indexes = [
            # The dashboard's open escalations by severity.
            models.Index(
                fields=["severity", "opened"],
                name="escalation_open_idx",
                condition=models.Q(status="open"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity}: {self.reason[:60]}"


class Batch(models.Model):
    """A bulk run: many rows of one template, uploaded as CSV or sent to the API.

    Rows are stored before any is processed, so a worker that dies mid-run
    resumes with the rows that have no outcome yet: nothing lost, nothing twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # As long as the code it copies (templates_app.Template.code).
    template_code = models.CharField(_("template"), max_length=100)
    channels = models.JSONField(_("channels"), default=list)
    source_system = models.CharField(_("source system"), max_length=100, blank=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requester_label = models.CharField(_("requester"), max_length=200)
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, blank=True)
    scheduled_for = models.DateTimeField(_("scheduled for"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    total = models.PositiveIntegerField(_("rows"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    accepted = models.PositiveIntegerField(_("accepted"), default=0)
    refused = models.PositiveIntegerField(_("refused"), default=0)
    error = models.TextField(_("error"), blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("batch run")
        verbose_name_plural = _("batch runs")

    def __str__(self) -> str:
        return f"{self.template_code} × {self.total} ({self.public_id})"


class BatchRow(models.Model):
    """One row of a batch: its input, and once processed its outcome."""

    batch = models.ForeignKey(
        Batch, on_delete=models.CASCADE, related_name="rows", verbose_name=_("batch")
    )
    number = models.PositiveIntegerField(_("row"))
    payload = models.JSONField(_("payload"))
    communication = models.OneToOneField(
        Communication,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="batch_row",
        verbose_name=_("batch"),
    )
    problems = models.JSONField(_("problems"), default=dict, blank=True)
    processed = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("batch row")
        verbose_name_plural = _("batch rows")
        constraints = [
            models.UniqueConstraint(
                fields=["batch", "number"], name="batchrow_unique_number"
            )
        ]
        indexes = [
            models.Index(
                fields=["batch", "number"],
                name="batchrow_pending_idx",
                condition=models.Q(processed__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.number}"


class InboundMessage(models.Model):
    """A message a customer sent us (an SMS reply), kept for the contact center.

    A STOP reply is acted on at once (SMS marketing stops); any other text
    waits here for an agent.
    """

    class Kind(models.TextChoices):
        STOP = "stop", _("Stop request")
        MESSAGE = "message", _("Message for the contact center")

    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    provider_id = models.CharField(_("provider's id"), max_length=200)
    sender = models.CharField(_("from"), max_length=320)
    text = models.TextField(_("text"))
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    customers = models.ManyToManyField(
        Customer,
        related_name="inbound_messages",
        blank=True,
        verbose_name=_("customers"),
    )
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)

    class Meta:
        verbose_name = _("inbound message")
        verbose_name_plural = _("inbound messages")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_id"], name="inbound_unique_provider_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} #{self.pk}"
