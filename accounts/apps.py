from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Sign-in")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts import checks  # noqa: F401 (registers the system checks)
        from accounts.mfa import second_factor_note

        user_logged_in.connect(second_factor_note, dispatch_uid="accounts.mfa")
