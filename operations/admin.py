"""Admin screens of operations: pauses, severity policies, and the feedback list
the dashboard's contact-centre figures link to."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.admin import AuditedAdminMixin
from channels_app import incidents, pauses
from channels_app.models import Incident, Pause, SeverityPolicy
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
        messages.success(
            request,
            ngettext("%(count)d pause resumed.", "%(count)d pauses resumed.", done)
            % {"count": done},
        )


@admin.register(SeverityPolicy)
class SeverityPolicyAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["severity", "deadline_minutes", "owner_group", "notify", "on_call"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        incidents.severity_policy_save(policy=obj, actor=request.user)


@admin.register(Incident)
class IncidentAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "severity",
        "status",
        "title",
        "template_code",
        "occurrences",
        "owner",
        "opened",
        "deadline",
    ]
    list_filter = ["status", "severity", "kind", "template_code"]
    search_fields = ["title", "key", "template_code"]
    fields = [
        "title",
        "kind",
        "severity",
        "status",
        "template_code",
        "batch",
        "occurrences",
        "owner_group",
        "owner",
        "notes",
        "root_cause",
        "opened",
        "deadline",
        "acknowledged",
        "resolved",
        "notified",
        "records",
    ]
    actions = ["acknowledge", "resolve"]
    change_form_template = "admin/operations/incident/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f for f in self.fields if f not in ("owner", "notes", "root_cause")]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description=_("records"))
    def records(self, incident: Incident) -> str:
        ids = list(incident.dispatches.values_list("pk", flat=True)[:50])
        if not ids:
            return "-"
        url = reverse("admin:channels_app_dispatch_changelist")
        return format_html_join(
            " ", '<a href="{}?id={}">#{}</a>', ((url, pk, pk) for pk in ids)
        )

    def save_model(self, request, obj, form, change) -> None:
        incidents.incident_update(
            incident=obj,
            actor=request.user,
            owner=form.cleaned_data.get("owner"),
            notes=form.cleaned_data.get("notes", ""),
            root_cause=form.cleaned_data.get("root_cause", ""),
        )

    def get_urls(self):
        return [
            path(
                "<int:incident_id>/pause-template",
                self.admin_site.admin_view(self.pause_template_view),
                name="channels_app_incident_pause_template",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        incident = self.get_object(request, object_id)
        extra_context["can_pause_template"] = bool(
            incident
            and incident.template_code
            and incident.status != Incident.Status.RESOLVED
            and request.user.has_perms(["operations.operate", "channels_app.add_pause"])
        )
        return super().change_view(request, object_id, form_url, extra_context)

    def pause_template_view(self, request, incident_id: int):
        """Pause the incident's template in one click (POST)."""
        incident = Incident.objects.get(pk=incident_id)
        if request.method != "POST" or not request.user.has_perms(
            ["operations.operate", "channels_app.add_pause"]
        ):
            messages.error(request, _("You may not pause sending."))
        else:
            try:
                pauses.pause_start(
                    scope=Pause.Scope.TEMPLATE,
                    value=incident.template_code,
                    reason=_("Incident #%(id)s: %(title)s")
                    % {"id": incident.pk, "title": incident.title},
                    actor=request.user,
                )
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))
            else:
                messages.success(
                    request,
                    _("Template %(code)s paused: its due dispatches are held.")
                    % {"code": incident.template_code},
                )
        return redirect("admin:channels_app_incident_change", incident_id)

    @admin.action(description=_("Acknowledge the selected incidents (I own them)"))
    def acknowledge(self, request, queryset):
        for incident in queryset:
            try:
                incidents.incident_acknowledge(incident=incident, actor=request.user)
            except ValidationError as exc:
                messages.error(request, " ".join(exc.messages))

    @admin.action(description=_("Resolve the selected incidents (root cause set)"))
    def resolve(self, request, queryset):
        for incident in queryset:
            try:
                incidents.incident_resolve(
                    incident=incident,
                    actor=request.user,
                    root_cause=incident.root_cause,
                )
            except ValidationError as exc:
                messages.error(request, f"#{incident.pk}: {' '.join(exc.messages)}")


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
