from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ccm.models import Heartbeat, UserSettings

admin.site.site_header = _("Communication Control")
admin.site.site_title = _("Communication Control")
admin.site.index_title = _("Control point for customer communications")


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = ["name", "last_seen", "hostname"]
    readonly_fields = ["name", "last_seen", "hostname"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UserSettings)
class UserSettingsAdmin(admin.ModelAdmin):
    list_display = ["user", "language"]
    list_select_related = ["user"]
