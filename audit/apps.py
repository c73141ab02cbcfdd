from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        from audit import tasking, vocabulary  # noqa: F401  (registers the actions)

        tasking.signals_connect()
