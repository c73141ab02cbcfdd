from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SubjectRightsConfig(AppConfig):
    name = "subject_rights"
    verbose_name = _("Data subject rights")

    def ready(self) -> None:
        from audit.privacy import subjects_private_register
        from audit.vocabulary import register

        from .models import ErasureRequest

        subjects_private_register(ErasureRequest)
        register(
            "subject_rights.erasure.done",
            "A customer's personal data was erased on their request.",
        )
        register(
            "subject_rights.export.made",
            "What is held about a customer was exported for them.",
        )
