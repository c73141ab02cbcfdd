"""Admin screens for authors and reviewers: templates here; versions, blocks,
the review queue and categories in their own modules, registered on import."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from templates_app import (
    admin_blocks,  # noqa: F401 (registers the block screens)
    admin_versions,  # noqa: F401 (registers the version screens)
    category_admin,  # noqa: F401 (registers the category screens)
    selectors,
    services,
)
from templates_app.admin_names import DisplayNameColumns, channels_shown
from templates_app.admin_workflow import authored, visible
from templates_app.forms import TemplateForm
from templates_app.models import Category, Template, TemplateVersion
from templates_app.schema_draft import schema_check, template_schema_draft
from templates_app.template_panels import template_panels
from templates_app.version_settings import settings_differ, settings_rows


class TemplateVersionInline(admin.TabularInline):
    model = TemplateVersion
    fields = ["number", "status", "author", "updated", "content_hash"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Template)
class TemplateAdmin(DisplayNameColumns, SimpleHistoryAdmin):
    form = TemplateForm
    list_display = [
        "code",
        "display_name",
        "category_display",
        "channel_list",
        "default_language",
    ]
    list_filter = ["category", "default_language"]
    search_fields = ["code", "name", "name_ar", "description"]
    list_select_related = ["category"]
    inlines = [TemplateVersionInline]
    change_form_template = "admin/templates_app/template/change_form.html"

    @admin.display(description=_("channels"))
    def channel_list(self, template):
        return channels_shown(template.channels)

    def get_queryset(self, request):
        return super().get_queryset(request).filter(category_id__in=visible(request))

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "category":
            kwargs["queryset"] = Category.objects.filter(pk__in=authored(request))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and bool(authored(request))

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.category_id not in authored(request):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Versions, communications and the audit trail name templates.
        return False

    def get_readonly_fields(self, request, obj=None):
        # Upstream systems trigger by code, and version hashes cover it.
        return ["code"] if obj is not None else []

    def get_fields(self, request, obj=None):
        return TemplateForm.Meta.fields

    def save_model(self, request, obj, form, change):
        try:
            services.template_save(template=obj, actor=request.user)
        except services.AuthoringError as exc:
            raise PermissionDenied(str(exc)) from exc
        in_force = selectors.version_in_force(obj) if change else None
        if in_force is not None and settings_differ(in_force, obj):
            self.message_user(
                request,
                gettext(
                    "The new settings reach customers only with a version approved "
                    "with them: start a new draft (or withdraw the version in "
                    "review and submit it again) and submit it for review. Until "
                    "then v%(number)s keeps its approved settings."
                )
                % {"number": in_force.number},
                messages.WARNING,
            )

    def get_urls(self):
        return [
            path(
                "<int:template_id>/schema-draft/",
                self.admin_site.admin_view(self.schema_draft_view),
                name="templates_app_template_schema_draft",
            ),
            path(
                "<int:template_id>/new-draft/",
                self.admin_site.admin_view(self.draft_create_view),
                name="templates_app_template_new_draft",
            ),
            *super().get_urls(),
        ]

    def draft_create_view(self, request, template_id):
        if request.method != "POST":
            return HttpResponseRedirect(
                reverse("admin:templates_app_template_change", args=[template_id])
            )
        template = get_object_or_404(Template, pk=template_id)
        if not request.user.has_perm("templates_app.add_templateversion"):
            raise PermissionDenied
        if template.category_id not in authored(request):
            raise PermissionDenied
        try:
            version = services.version_draft_create(
                template=template, author=request.user
            )
        except services.AuthoringError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(
                reverse("admin:templates_app_template_change", args=[template_id])
            )
        self.message_user(
            request,
            gettext("Draft version %(number)s created.") % {"number": version.number},
        )
        return HttpResponseRedirect(
            reverse("admin:templates_app_templateversion_change", args=[version.pk])
        )

    def schema_draft_view(self, request, template_id):
        """Add what the content uses to the schema and the sample data."""
        back = reverse("admin:templates_app_template_change", args=[template_id])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        template = get_object_or_404(Template, pk=template_id)
        if not self.has_change_permission(request, template):
            raise PermissionDenied
        try:
            added = template_schema_draft(template=template, actor=request.user)
        except (services.AuthoringError, ValidationError) as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(back)
        if not added:
            self.message_user(
                request, gettext("The schema already declares every value used.")
            )
        else:
            self.message_user(
                request,
                gettext(
                    "Added to the schema and the sample data: %(names)s. Check "
                    "their types and which are required, then save."
                )
                % {"names": ", ".join(added)},
            )
        return HttpResponseRedirect(back)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_start_draft"] = (
            obj is not None
            and request.user.has_perm("templates_app.add_templateversion")
            and obj.category_id in authored(request)
        )
        if obj is not None:
            context["template_panels"] = template_panels(obj, request.user)
            context["schema_check"] = schema_check(obj)
            in_force = selectors.version_in_force(obj)
            context["in_force"] = in_force
            context["settings_pending"] = (
                [row for row in settings_rows(in_force, obj) if row.changed]
                if in_force is not None
                else []
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)
