"""Authenticator apps in the admin: listed and removable, never readable.

Replaces django-otp's TOTP admin, whose pages show keys and QR codes to
whoever may view them and speak only English. An operator removes a lost
app here; its holder enrols a new one at their next sign-in.
"""

from django.contrib import admin
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class AuthenticatorAppAdmin(admin.ModelAdmin):
    list_display = ("holder", "app_name", "is_confirmed", "last_used")
    list_select_related = ("user",)
    search_fields = ("user__username",)
    fields = ("holder", "app_name", "is_confirmed", "created", "last_used")
    readonly_fields = fields

    @admin.display(description=_("User"), ordering="user__username")
    def holder(self, device):
        return device.user.get_username()

    @admin.display(description=_("Name"))
    def app_name(self, device):
        return device.name

    @admin.display(description=_("Confirmed"), boolean=True)
    def is_confirmed(self, device):
        return device.confirmed

    def _moment(self, value):
        if value is None:
            return self.get_empty_value_display()
        return date_format(timezone.localtime(value), "DATETIME_FORMAT")

    @admin.display(description=_("Created"))
    def created(self, device):
        return self._moment(device.created_at)

    @admin.display(description=_("Last used"))
    def last_used(self, device):
        return self._moment(device.last_used_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
