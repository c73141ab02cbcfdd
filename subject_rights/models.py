"""Vocabulary of data subjects' rights: erasure requests and what they kept."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import Customer


class ErasureRequest(models.Model):
    """A data subject's request to erase a customer's personal data, as done.

    `erased` counts what went, by kind; `kept` lists what stayed and why (a
    legal hold, a retention duty, events recorded before sealing), each entry
    {"what", "count", "why", "reference"}.
    """

    class Status(models.TextChoices):
        ERASED = "erased", _("Erased")
        PARTIAL = "partial", _("Erased, except what is kept (see below)")
        KEPT = "kept", _("Nothing erased: a legal hold keeps everything")

    class Source(models.TextChoices):
        ADMIN = "admin", _("Administration")
        API = "api", _("Upstream system (API)")

    customer = models.ForeignKey(
        Customer,
        on_delete=models.PROTECT,
        related_name="erasure_requests",
        verbose_name=_("customer"),
    )
    reason = models.TextField(_("reason"))
    reference = models.CharField(_("reference"), max_length=200)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("requested by"),
    )
    requester_label = models.CharField(_("requester"), max_length=200)
    requested_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices)
    erased = models.JSONField(_("erased"), default=dict, blank=True)
    kept = models.JSONField(_("kept, and why"), default=list, blank=True)

    class Meta:
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        ordering = ["-requested_at", "-id"]
        permissions = [
            ("export_subject_data", _("Can export what is held about a customer")),
        ]

    def __str__(self) -> str:
        return f"{self.reference} ({self.requested_at:%Y-%m-%d})"
