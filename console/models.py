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
    # The dispatch's channel, category and template, copied by
    # console.services.feedback_record: the dashboard counts a period's
    # feedback by them with no join to the dispatches and communications.
    channel = models.CharField(_("channel"), max_length=16, editable=False)
    category = models.CharField(_("category"), max_length=64, editable=False)
    template_code = models.CharField(_("template"), max_length=100, editable=False)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        ordering = ["-created", "-id"]
        indexes = [
            # The operations dashboard counts a period's feedback from the
            # index alone.
            models.Index(
                fields=["created"],
                name="feedback_period_idx",
                include=["kind", "channel", "category", "template_code"],
            )
        ]
        permissions = [
            ("use_console", _("Can use the contact-center console")),
            ("unmask_contact", _("Can unmask customer contact data")),
            ("export_evidence", _("Can export evidence packs")),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.dispatch_id} ({self.severity})"
