from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and consent")

    def ready(self) -> None:
        from audit.privacy import subjects_private_register
        from audit.vocabulary import register

        from . import models

        # Their events name customers and their addresses.
        subjects_private_register(
            models.Customer, models.PreferenceEntry, models.Suppression
        )
        # The action names keep the prefix they were recorded with.
        register("channels.customer.created", _("A customer was created."))
        register("channels.customer.updated", _("A customer's details changed."))
        register(
            "channels.address.suppressed",
            _("An address was suppressed on a channel (bounce, invalid, complaint)."),
        )
