"""Vocabulary of the operations dashboard: who may look, and who may act."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    """The permissions of the operations dashboard; no table."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [
            ("view_dashboard", _("Can view the operations dashboard")),
            ("operate", _("Can pause and resume sending from the dashboard")),
        ]

    def __str__(self) -> str:
        return str(_("Operations dashboard"))
