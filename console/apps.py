from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsoleConfig(AppConfig):
    name = "console"
    verbose_name = _("Contact-center console")

    def ready(self) -> None:
        from audit.privacy import subjects_private_register
        from audit.vocabulary import register

        from .models import Feedback

        subjects_private_register(Feedback)  # what a customer said

        register(
            "console.customer.viewed",
            _("An agent viewed a customer's communications in the console."),
        )
        register(
            "console.dispatch.viewed",
            _("An agent opened the exact copy of a dispatch in the console."),
        )
        register(
            "console.contact.unmasked",
            _("An agent unmasked a customer's contact data in the console."),
        )
        register(
            "console.communication.reissued",
            _("An agent corrected a communication's data and reissued it."),
        )
        register(
            "console.feedback.recorded",
            _("An agent recorded customer feedback or a complaint about a dispatch."),
        )
        register(
            "console.evidence.exported",
            _("An evidence pack for a dispatch or a customer was exported."),
        )
