"""Admin screens of operations: pauses, severity policies, and the feedback list
the dashboard's contact-centre figures link to."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from audit.admin import AuditedAdminMixin
from channels_app import pauses
from channels_app.models import Pause, SeverityPolicy
from console.models import Feedback


class PauseAddForm(forms.ModelForm):
    class Meta:
        model = Pause
        fields = ["scope", "value", "reason"]


@admin.register(Pause)
class PauseAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "scope",
        "value",
        "reason",
        "paused_by",
        "paused_at",
        "resumed_by",
        "resumed_at",
    ]
    list_filter = ["scope", ("resumed_at", admin.EmptyFieldListFilter)]
    search_fields = ["value", "reason"]
    actions = ["resume"]
    form = PauseAddForm

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f.name for f in Pause._meta.fields]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["scope", "value", "reason"]
        return [f.name for f in Pause._meta.fields if f.name != "id"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return
        try:
            created = pauses.pause_start(
                scope=obj.scope, value=obj.value, reason=obj.reason, actor=request.user
            )
        except ValidationError as exc:
            # The form already checked; a race with another operator lands here.
            messages.error(request, " ".join(exc.messages))
            raise
        obj.pk = created.pk

    @admin.action(description=_("Resume the selected pauses"))
    def resume(self, request, queryset):
        done = 0
        for pause in queryset.filter(resumed_at__isnull=True):
            pauses.pause_resume(pause=pause, actor=request.user)
            done += 1
        messages.success(request, _("%(count)d pause(s) resumed.") % {"count": done})


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["severity", "deadline_minutes", "owner_group", "notify", "on_call"]


@admin.register(Feedback)
class FeedbackAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "kind",
        "severity",
        "dispatch",
        "template",
        "agent",
        "created",
    ]
    list_filter = [
        "kind",
        "severity",
        "dispatch__communication__template_code",
        "dispatch__channel",
        ("created", admin.DateFieldListFilter),
    ]
    list_select_related = ["dispatch__communication", "agent"]

    @admin.display(description=_("template"))
    def template(self, feedback: Feedback) -> str:
        return feedback.dispatch.communication.template_code

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
