from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TemplatesAppConfig(AppConfig):
    name = "templates_app"
    verbose_name = _("Templates")

    def ready(self) -> None:
        from audit.vocabulary import register

        register(
            "templates.version.approval_recorded",
            "A reviewer approved a template version that needs more approvals.",
        )
