"""What the channel admin screens share: ReadOnlyAdmin, for the records that
only their actions move (communications, dispatches, escalations, batch runs).
"""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record shown, never saved: its changes go through the services' actions."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A save would write the whole row back, status included, beside the
        # lifecycle and with no audit event.
        if request.method == "POST":
            raise PermissionDenied(_("This record is read-only."))
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]
