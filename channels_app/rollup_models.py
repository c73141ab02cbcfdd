"""The dashboard's rollups: dispatches entering each status, per hour and day.

Re-exported by `channels_app.models`; kept by `channels_app.rollups`.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from templates_app.models import Channel


class DispatchRollup(models.Model):
    """How many dispatches entered each status in one hour or one day, by
    channel, category and template: the dashboard's figures.

    Kept by the lifecycle in the transaction of every move and opening, so it
    always equals a count of the status history; `created` counts new
    dispatches. Days start at midnight in the project's time zone.
    """

    class Span(models.TextChoices):
        HOUR = "hour", _("Hour")
        DAY = "day", _("Day")

    CREATED = "created"

    span = models.CharField(_("span"), max_length=4, choices=Span.choices)
    start = models.DateTimeField(_("start"))
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    category = models.CharField(_("category"), max_length=64)
    template_code = models.CharField(_("template"), max_length=100)
    status = models.CharField(_("status"), max_length=16)
    count = models.BigIntegerField(_("count"), default=0)

    class Meta:
        verbose_name = _("dispatch rollup")
        verbose_name_plural = _("dispatch rollups")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "span",
                    "start",
                    "channel",
                    "category",
                    "template_code",
                    "status",
                ],
                name="rollup_unique_key",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.span} {self.start:%Y-%m-%d %H:00} "
            f"{self.template_code} {self.status}"
        )
