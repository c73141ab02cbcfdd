from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def customer_owner(customer) -> str:
    """Return the data subject name whose audit key seals a customer's events."""
    return f"customer:{customer.pk}"


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers and consent")

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from audit.privacy import personal_fields_register, subjects_private_register
        from audit.sealing import address_owner
        from audit.vocabulary import register
        from templates_app.models import Category

        from . import models, reasons

        # A renamed category reads at once in this process's reasons (other
        # processes re-read names within reasons.NAMES_SECONDS).
        post_save.connect(
            reasons.names_forget, sender=Category, dispatch_uid="reasons-names"
        )

        # Their events name customers and their addresses.
        subjects_private_register(
            models.Customer, models.PreferenceEntry, models.Suppression
        )
        # Sealed under the customer's own key (docs/audit.md): erasing the
        # customer destroys it.
        personal_fields_register(
            models.Customer,
            owner=customer_owner,
            fields=(
                "name",
                "email",
                "phone",
                "postal_address",
                "external_id",
                "user_agent",
            ),
            label=True,
            reason=True,
        )
        personal_fields_register(
            models.Suppression,
            owner=lambda suppression: address_owner(suppression.address),
            fields=("address",),
            label=True,
            reason=True,
        )
        # The action names keep the prefix they were recorded with.
        register("channels.customer.created", _("A customer was created."))
        register("channels.customer.updated", _("A customer's details changed."))
        register(
            "channels.address.suppressed",
            _("An address was suppressed on a channel (bounce, invalid, complaint)."),
        )
