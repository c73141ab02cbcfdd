from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = _("Retention and legal hold")

    def ready(self) -> None:
        from audit.privacy import personal_fields_register, subjects_private_register
        from audit.vocabulary import register

        from . import models

        # A hold names the customer or case it keeps.
        subjects_private_register(models.LegalHold)
        # A hold on a customer names them: sealed under their audit key, so
        # erasing them later erases the name from the hold's events too.
        personal_fields_register(
            models.LegalHold,
            owner=lambda hold: (
                f"customer:{hold.customer_id}" if hold.customer_id else None
            ),
            fields=("covers",),
            label=True,
        )

        register(
            "retention.class.changed",
            "An operator set how long a category's personal content is kept.",
        )
        register(
            "retention.class.change_proposed",
            "An operator proposed a shorter retention period; a second approves.",
        )
        register(
            "retention.class.change_approved",
            "A second operator approved a shorter retention period; it is in force.",
        )
        register(
            "retention.class.change_rejected",
            "A second operator rejected a proposed retention period.",
        )
        register(
            "retention.class.change_withdrawn",
            "The proposer withdrew a proposed retention period.",
        )
        register(
            "retention.hold.placed",
            "An operator placed a legal hold: nothing it covers is erased.",
        )
        register(
            "retention.hold.released",
            "A second operator released a legal hold; what it covered may expire.",
        )
        register(
            "retention.dispatch.erased",
            "A dispatch's personal content was erased; the record stays.",
        )
        register("retention.run.finished", "A retention run erased what expired.")
