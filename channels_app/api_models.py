"""The API's own records: idempotency keys, receipts seen, queued triggers.

A trigger sent with `Prefer: respond-async` is checked and stored as a
`TriggerIntake` before its answer (202); a worker then triggers the queued
ones in bulk (`channels_app.intake`), which alone changes their status.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from templates_app.models import Channel


class IdempotencyRecord(models.Model):
    """What one client's request with one Idempotency-Key produced."""

    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("client"),
    )
    key = models.CharField(max_length=200)
    request_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True)
    response_body = models.JSONField(null=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["client", "key"], name="idempotency_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.client_id}:{self.key}"


class ReceiptSeen(models.Model):
    """A delivery receipt's id, kept for the signature window to refuse replays."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    receipt_id = models.CharField(max_length=200)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "receipt_id"], name="receipt_seen_unique_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.channel}:{self.receipt_id}"


class TriggerIntake(models.Model):
    """A trigger accepted for processing: checked, stored, triggered in bulk later.

    Its `public_id` becomes the communication's, so the id the client was
    given reads the queued trigger, then its refusal or its communication.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DONE = "done", _("Triggered")
        REFUSED = "refused", _("Refused")

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("client"),
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200)
    payload = models.JSONField(_("request"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    problems = models.JSONField(_("problems"), default=dict, blank=True)
    communication = models.OneToOneField(
        "channels_app.Communication",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("communication"),
    )
    created = models.DateTimeField(_("accepted"), default=timezone.now)
    processed = models.DateTimeField(_("processed"), null=True, blank=True)

    class Meta:
        verbose_name = _("queued trigger")
        verbose_name_plural = _("queued triggers")
        indexes = [
            models.Index(
                fields=["id"],
                name="intake_queued_idx",
                condition=models.Q(status="queued"),
            )
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.get_status_display()})"
