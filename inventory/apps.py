from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = _("Template inventory")

    def ready(self) -> None:
        from audit.vocabulary import register

        register(
            "inventory.paragraph.extracted",
            _(
                "A paragraph repeated across templates was drafted into a content "
                "block, with template drafts that use it."
            ),
        )
