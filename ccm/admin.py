from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin
from django.contrib.auth.models import Group
from django.utils.translation import gettext_lazy as _

from ccm import admin_grants  # noqa: F401  (role grants, users: registered there)
from ccm.models import Heartbeat, UserSettings
from ccm.roles import role_label

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
    list_display = ["user", "language", "time_zone"]
    list_select_related = ["user"]


admin.site.unregister(Group)


@admin.register(Group)
class RoleAdmin(GroupAdmin):
    """Groups, the role groups named in the reader's language where not edited."""

    readonly_fields = ["role_name"]

    @admin.display(description=_("name"))
    def role_name(self, group: Group) -> str:
        return role_label(group)

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            return ["role_name" if name == "name" else name for name in fields]
        return [name for name in fields if name != "role_name"]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            # A role's permissions are declared in ccm.roles, not edited here.
            readonly.append("permissions")
        return readonly
