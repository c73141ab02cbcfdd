"""Vocabulary of the contact-center console: customer feedback about a dispatch."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from channels_app.models import Dispatch, Escalation, Severity


class Feedback(models.Model):
    """What a customer told the contact center about one dispatch.

    Every row opens an escalation for operations, at the row's severity.
    """

    class Kind(models.TextChoices):
        COMPLAINT = "complaint", _("Complaint")
        FEEDBACK = "feedback", _("Feedback")
        COMPLIMENT = "compliment", _("Compliment")

    dispatch = models.ForeignKey(
        Dispatch,
        on_delete=models.PROTECT,
        related_name="feedback",
        verbose_name=_("dispatch"),
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    severity = models.CharField(_("severity"), max_length=16, choices=Severity.choices)
    text = models.TextField(_("what the customer said"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("agent"),
    )
    escalation = models.OneToOneField(
        Escalation,
        on_delete=models.PROTECT,
        related_name="feedback",
        verbose_name=_("escalation"),
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created", "-id"]
        # The operations dashboard reads a period's feedback.
        indexes = [models.Index(fields=["created"], name="feedback_created_idx")]
        permissions = [
            ("use_console", _("Can use the contact-center console")),
            ("unmask_contact", _("Can unmask customer contact data")),
            ("export_evidence", _("Can export evidence packs")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.dispatch_id} ({self.severity})"
