from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PreferencesConfig(AppConfig):
    name = "preferences"
    verbose_name = _("Customer preference centre")

    def ready(self) -> None:
        from audit.vocabulary import register

        register(
            "preferences.link.sent",
            _(
                "A fresh preference-centre link was sent to a customer's "
                "address on file."
            ),
        )
