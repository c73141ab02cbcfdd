"""Admin screens of content blocks and their versions."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from templates_app import selectors, services
from templates_app.admin_names import DisplayNameColumns
from templates_app.admin_workflow import WorkflowAdminMixin
from templates_app.forms import BlockContentFormSet
from templates_app.models import (
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Status,
)


class ContentBlockContentInline(admin.StackedInline):
    model = ContentBlockContent
    formset = BlockContentFormSet
    extra = 0

    def has_add_permission(self, request, obj=None):
        return (
            obj is not None
            and obj.is_editable
            and super().has_add_permission(request, obj)
        )

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)


class ContentBlockVersionInline(admin.TabularInline):
    model = ContentBlockVersion
    fields = ["number", "status", "author", "updated", "content_hash"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    ordering = ["-number"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ContentBlock)
class ContentBlockAdmin(DisplayNameColumns, AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "display_name", "category_display"]
    list_select_related = ["category"]
    search_fields = ["code", "name", "name_ar"]
    fields = ["code", "name", "name_ar", "category", "description", "where_used"]
    inlines = [ContentBlockVersionInline]
    change_form_template = "admin/templates_app/contentblock/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        # Templates include a block by its code; its versions' hashes cover it.
        return ["code", "where_used"] if obj is not None else ["where_used"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            services.block_save(block=obj, actor=request.user)
        except services.AuthoringError as exc:
            raise PermissionDenied(str(exc)) from exc

    @admin.display(description=_("where used"))
    def where_used(self, block):
        if block.pk is None:
            return "-"
        pins = selectors.block_where_used(block)
        rows = format_html_join(
            "",
            '<li><a href="{}">{} v{}</a> ({}) — {} v{}</li>',
            (
                (
                    reverse(
                        "admin:templates_app_templateversion_change",
                        args=[pin.version_id],
                    ),
                    pin.version.template.code,
                    pin.version.number,
                    pin.version.get_status_display(),
                    block.code,
                    pin.block_version.number,
                )
                for pin in pins
            ),
        )
        if not rows:
            return gettext("Not used by any template version.")
        return format_html('<ul class="tpl-where-used">{}</ul>', rows)

    def get_urls(self):
        return [
            path(
                "<int:block_id>/new-draft/",
                self.admin_site.admin_view(self.draft_create_view),
                name="templates_app_contentblock_new_draft",
            ),
            path(
                "<int:block_id>/redraft-dependents/",
                self.admin_site.admin_view(self.redraft_dependents_view),
                name="templates_app_contentblock_redraft_dependents",
            ),
            *super().get_urls(),
        ]

    def draft_create_view(self, request, block_id):
        block = get_object_or_404(ContentBlock, pk=block_id)
        back = reverse("admin:templates_app_contentblock_change", args=[block_id])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not request.user.has_perm("templates_app.add_contentblockversion"):
            raise PermissionDenied
        try:
            version = services.block_draft_create(block=block, author=request.user)
        except services.AuthoringError as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return HttpResponseRedirect(back)
        return HttpResponseRedirect(
            reverse("admin:templates_app_contentblockversion_change", args=[version.pk])
        )

    def redraft_dependents_view(self, request, block_id):
        """Start drafts of every dependent template, pinned to the newest version."""
        block = get_object_or_404(ContentBlock, pk=block_id)
        back = reverse("admin:templates_app_contentblock_change", args=[block_id])
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not request.user.has_perm("templates_app.add_templateversion"):
            raise PermissionDenied
        newest = block.versions.filter(status=Status.APPROVED).order_by("-number")
        if not newest.exists():
            self.message_user(
                request, gettext("The block has no approved version."), messages.ERROR
            )
            return HttpResponseRedirect(back)
        try:
            result = services.block_dependents_redraft(
                block_version=newest.first(), actor=request.user
            )
        except services.AuthoringError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            gettext("New drafts started: %(drafts)s")
            % {"drafts": ", ".join(str(v) for v in result.created) or "-"},
        )
        for skipped in result.skipped:
            self.message_user(request, skipped, messages.WARNING)
        return HttpResponseRedirect(back)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_start_draft"] = obj is not None and request.user.has_perm(
            "templates_app.add_contentblockversion"
        )
        context["can_redraft_dependents"] = (
            obj is not None
            and request.user.has_perm("templates_app.add_templateversion")
            and obj.versions.filter(status=Status.APPROVED).exists()
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(ContentBlockVersion)
class ContentBlockVersionAdmin(
    WorkflowAdminMixin, AuditedAdminMixin, SimpleHistoryAdmin
):
    list_display = ["block", "number", "status", "author", "updated"]
    list_filter = ["status"]
    list_select_related = ["block", "author"]
    fields = [
        "block",
        "number",
        "status",
        "author",
        "created",
        "updated",
        "submitted_at",
        "decided_at",
        "rejection_reason",
        "content_hash",
        "where_used",
    ]
    readonly_fields = fields
    inlines = [ContentBlockContentInline]
    change_form_template = "admin/templates_app/contentblockversion/change_form.html"

    @admin.display(description=_("where used"))
    def where_used(self, block_version):
        pins = block_version.pins.select_related("version__template").order_by(
            "version__template__code", "-version__number"
        )
        return format_html_join(
            ", ",
            '<a href="{}">{} v{}</a> ({})',
            (
                (
                    reverse(
                        "admin:templates_app_templateversion_change",
                        args=[pin.version_id],
                    ),
                    pin.version.template.code,
                    pin.version.number,
                    pin.version.get_status_display(),
                )
                for pin in pins
            ),
        ) or gettext("Not used by any template version.")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and not obj.is_editable:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        pass

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            formset.new_objects, formset.changed_objects = [], []
            formset.deleted_objects = []
            contents = [
                (
                    f.cleaned_data["language"],
                    f.cleaned_data.get("html") or "",
                    f.cleaned_data.get("text") or "",
                )
                for f in formset.forms
                if f.cleaned_data.get("language")
                and not (formset.can_delete and formset._should_delete_form(f))
            ]
            try:
                services.block_content_save(
                    block_version=form.instance, contents=contents, actor=request.user
                )
            except (services.AuthoringError, ValidationError) as exc:
                raise PermissionDenied(str(exc)) from exc

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context.update(self.workflow_context(request, obj))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def get_urls(self):
        return [*self.workflow_urls(), *super().get_urls()]
