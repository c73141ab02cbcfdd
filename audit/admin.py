"""A read-only audit browser, and the link from audited objects to their events."""

import json
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import QuerySet
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from audit.models import AuditEvent
from audit.privacy import subjects_unreadable
from audit.sealing import Unsealer, readable
from audit.vocabulary import action_label


def events_url_for(subject: models.Model) -> str:
    """Return the audit browser's URL filtered to the events about `subject`."""
    content_type = ContentType.objects.get_for_model(subject)
    query = urlencode(
        {"content_type__id__exact": content_type.pk, "object_id": str(subject.pk)}
    )
    return f"{reverse('admin:audit_auditevent_changelist')}?{query}"


class AuditedAdminMixin:
    """Link an admin's change form to the object's audit events.

    Adds an "Audit events" button to the object tools; `audit_events_link` can
    also go into `readonly_fields` or `list_display`.
    """

    change_form_template = "admin/audit/audited_change_form.html"

    @admin.display(description=_("Audit events"))
    def audit_events_link(self, subject: models.Model) -> str:
        if subject is None or subject.pk is None:
            return "-"
        return format_html(
            '<a href="{}">{}</a>', events_url_for(subject), _("Audit events")
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        subject = self.get_object(request, object_id)
        if subject is not None and request.user.has_perm("audit.view_auditevent"):
            extra_context["audit_events_url"] = events_url_for(subject)
        return super().change_view(request, object_id, form_url, extra_context)


def events_readable(user, events: QuerySet) -> QuerySet:
    """Return the events among `events` that `user` may read (`audit.privacy`)."""
    unreadable = [
        ContentType.objects.get_by_natural_key(app_label, model)
        for app_label, model in subjects_unreadable(user)
    ]
    return events.exclude(content_type__in=unreadable) if unreadable else events


class SubjectTypeFilter(admin.SimpleListFilter):
    """Filter by the kind of object an event is about, listing only kinds in use."""

    title = _("subject type")
    parameter_name = "content_type__id__exact"

    def lookups(self, request, model_admin):
        used = (
            events_readable(request.user, AuditEvent.objects.exclude(content_type=None))
            .values_list("content_type", flat=True)
            .distinct()
        )
        return [
            (content_type.pk, str(content_type))
            for content_type in ContentType.objects.filter(pk__in=used)
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(content_type_id=self.value())
        return queryset


class UnsealingChangeList(ChangeList):
    """A page of events whose sealed personal parts are read back in one go."""

    def get_results(self, request):
        super().get_results(request)
        unsealer = Unsealer.for_events(self.result_list)
        for event in self.result_list:
            event.readable = unsealer.event(event)


def _readable(event: AuditEvent) -> dict:
    """Return the event's personal parts read back (`audit.sealing`)."""
    readable = getattr(event, "readable", None)
    if readable is None:
        readable = event.readable = Unsealer.for_events([event]).event(event)
    return readable


class ActionFilter(admin.SimpleListFilter):
    """Filter by action, each named in the reader's language."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        used = (
            events_readable(request.user, AuditEvent.objects.all())
            .order_by("action")
            .values_list("action", flat=True)
            .distinct()
        )
        return sorted(((action, action_label(action)) for action in used), key=str)

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(action=self.value())
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Browse events; nobody, superusers included, may add, change or delete one.

    Personal parts sealed under a data subject's key show in clear while the
    key lives and as "erased on <date>" once it is destroyed; the stored
    (sealed) form, which the hash covers, shows beside them on the event.
    """

    list_display = (
        "sequence",
        "created",
        "action_display",
        "actor_display",
        "actor_kind",
        "subject_display",
        "content_type",
        "correlation_id",
    )
    list_filter = (ActionFilter, "actor_kind", SubjectTypeFilter, "created")
    date_hierarchy = "created"
    search_fields = ("actor_label", "subject_label", "correlation_id", "=object_id")
    ordering = ("-sequence",)
    list_select_related = ("content_type",)
    show_full_result_count = False
    readonly_fields = (
        "sequence",
        "created",
        "action_display",
        "actor",
        "actor_label",
        "actor_kind",
        "content_type",
        "object_id",
        "subject_display",
        "before_display",
        "after_display",
        "reason_display",
        "correlation_id",
        "prev_hash",
        "hash",
        "subject_label",
        "before",
        "after",
        "reason",
    )
    fieldsets = (
        (None, {"fields": readonly_fields[:15]}),
        (
            _("As stored and hashed (personal parts sealed)"),
            {"fields": readonly_fields[15:]},
        ),
    )

    def get_changelist(self, request, **kwargs):
        return UnsealingChangeList

    @admin.display(description=_("subject"))
    def subject_display(self, event: AuditEvent) -> str:
        return str(_readable(event)["subject_label"])

    @admin.display(description=_("before (readable)"))
    def before_display(self, event: AuditEvent) -> str:
        return _json_display(_readable(event)["before"])

    @admin.display(description=_("after (readable)"))
    def after_display(self, event: AuditEvent) -> str:
        return _json_display(_readable(event)["after"])

    @admin.display(description=_("reason (readable)"))
    def reason_display(self, event: AuditEvent) -> str:
        return str(_readable(event)["reason"])

    @admin.display(description=_("actor"), ordering="actor_label")
    def actor_display(self, event: AuditEvent) -> str:
        return event.actor_shown

    @admin.display(description=_("action"), ordering="action")
    def action_display(self, event: AuditEvent) -> str:
        """Show what the action means; its stored code is the tooltip."""
        return format_html(
            '<span class="audit-action" title="{}">{}</span>',
            event.action,
            action_label(event.action),
        )

    def get_queryset(self, request):
        return events_readable(request.user, super().get_queryset(request))

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


def _json_display(values) -> str:
    if values is None:
        return "-"
    return json.dumps(readable(values), ensure_ascii=False, indent=1, default=str)
