"""The inbound messages customers sent, for operators (read-only)."""

from django.contrib import admin

from channels_app.models import InboundMessage


@admin.register(InboundMessage)
class InboundMessageAdmin(admin.ModelAdmin):
    list_display = ["received_at", "channel", "kind", "sender", "text"]
    list_filter = ["kind", "channel"]
    search_fields = ["=sender", "=customers__external_id"]
    readonly_fields = [
        "channel",
        "provider_id",
        "sender",
        "text",
        "kind",
        "customers",
        "received_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
