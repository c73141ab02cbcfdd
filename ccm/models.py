"""Project-wide vocabulary: worker liveness and per-user settings."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from customers.models import validate_time_zone


class Heartbeat(models.Model):
    """The last time a named periodic process proved it was alive."""

    name = models.CharField(_("name"), max_length=64, unique=True)
    last_seen = models.DateTimeField(_("last seen"))
    hostname = models.CharField(_("host"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("heartbeat")
        verbose_name_plural = _("heartbeats")

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class UserSettings(models.Model):
    """Per-user choices that follow the user across browsers."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="ccm_settings",
        verbose_name=_("user"),
    )
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, blank=True
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text=_(
            "The zone times are shown in, e.g. Asia/Riyadh; empty for the site's "
            "display time zone."
        ),
    )

    class Meta:
        verbose_name = _("user settings")
        verbose_name_plural = _("user settings")

    def __str__(self) -> str:
        return f"{self.user}: {self.language or '-'}"
