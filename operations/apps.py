from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from operations.template_panel import template_panel
        from templates_app.template_panels import template_panel_register

        # The template owners' view of complaints and incidents.
        template_panel_register(template_panel)
