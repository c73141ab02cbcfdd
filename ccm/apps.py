from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _roles_sync_after_migrate(sender, **kwargs) -> None:
    from django.apps import apps

    from ccm.roles import roles_sync

    roles_sync(apps, strict=True)


class CcmConfig(AppConfig):
    name = "ccm"
    verbose_name = _("Communication Control")

    def ready(self) -> None:
        # A warm web process's long-lived objects out of the collector's way.
        from django.core.signals import request_finished

        from ccm.warm import freeze_when_warm

        freeze_when_warm(request_finished)
        # Keep the role groups equal to their declaration after every migrate,
        # once all apps' permissions exist (dispatch_uid: once per migrate run).
        post_migrate.connect(
            _roles_sync_after_migrate, sender=self, dispatch_uid="ccm.roles_sync"
        )
        from audit.vocabulary import register

        register(
            "auth.grant.requested",
            _("A role or category permission was requested for a user or group."),
        )
        register(
            "auth.grant.approved",
            _("A requested grant was approved by a second operator and applied."),
        )
        register(
            "auth.grant.refused",
            _("A requested grant was refused, or withdrawn by its requester."),
        )
        register("auth.role.granted", _("A user was given a role."))
        register("auth.role.revoked", _("A user's role was taken away."))

        from django.contrib.auth.models import Group

        from ccm.roles import role_label

        # The role groups are named in English in the database; every screen
        # (lists, filters, titles, breadcrumbs) shows them in the reader's.
        Group.__str__ = role_label
