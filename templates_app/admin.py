"""Admin screens for authors: templates, drafts with live preview, blocks."""

import difflib

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import (
    Http404,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from templates_app import preview, selectors, services
from templates_app.forms import (
    BlockContentFormSet,
    TemplateForm,
    VersionContentForm,
    VersionContentFormSet,
)
from templates_app.models import (
    CHANNEL_FIELDS,
    Category,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Template,
    TemplateVersion,
    VersionContent,
)


@admin.register(Category)
class CategoryAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name", "name_ar", "required_approvals"]
    search_fields = ["code", "name", "name_ar"]


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
class TemplateAdmin(SimpleHistoryAdmin):
    form = TemplateForm
    list_display = ["code", "name", "category", "channel_list", "default_language"]
    list_filter = ["category", "default_language"]
    search_fields = ["code", "name", "description"]
    list_select_related = ["category"]
    inlines = [TemplateVersionInline]
    change_form_template = "admin/templates_app/template/change_form.html"

    @admin.display(description=_("channels"))
    def channel_list(self, template):
        return ", ".join(template.channels)

    def save_model(self, request, obj, form, change):
        services.template_save(template=obj, actor=request.user)

    def get_urls(self):
        return [
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

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_start_draft"] = obj is not None and request.user.has_perm(
            "templates_app.add_templateversion"
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


class VersionContentInline(admin.StackedInline):
    model = VersionContent
    form = VersionContentForm
    formset = VersionContentFormSet
    extra = 0
    classes = ["tpl-content"]

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


@admin.register(TemplateVersion)
class TemplateVersionAdmin(SimpleHistoryAdmin):
    list_display = ["template", "number", "status", "author", "updated", "short_hash"]
    list_filter = ["status", "template__category"]
    search_fields = ["template__code", "template__name"]
    list_select_related = ["template", "author"]
    fields = [
        "template",
        "number",
        "status",
        "author",
        "created",
        "updated",
        "content_hash",
        "pinned_blocks",
    ]
    readonly_fields = fields
    inlines = [VersionContentInline]
    change_form_template = "admin/templates_app/templateversion/change_form.html"

    @admin.display(description=_("hash"))
    def short_hash(self, version):
        return version.content_hash[:12]

    @admin.display(description=_("pinned block versions"))
    def pinned_blocks(self, version):
        pins = version.pins.select_related("block_version__block")
        return (
            format_html_join(
                ", ",
                '<a href="{}">{} v{}</a>',
                (
                    (
                        reverse(
                            "admin:templates_app_contentblock_change",
                            args=[pin.block_version.block_id],
                        ),
                        pin.block_version.block.code,
                        pin.block_version.number,
                    )
                    for pin in pins
                ),
            )
            or "-"
        )

    def has_add_permission(self, request):
        # Drafts start from a template ("New draft"), which numbers them.
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
        # The version row itself has no editable fields; content is saved
        # through the service in save_related.
        pass

    def save_related(self, request, form, formsets, change):
        for formset in formsets:
            if not isinstance(formset, VersionContentFormSet):
                continue
            drafts = [f.draft() for f in formset.live_forms()]
            # The service does the writing; the admin's change message reads these.
            formset.new_objects, formset.changed_objects = [], []
            formset.deleted_objects = []
            try:
                services.version_content_save(
                    version=form.instance, contents=drafts, actor=request.user
                )
            except services.AuthoringError as exc:
                raise PermissionDenied(str(exc)) from exc
            for warning in formset.validation_warnings:
                self.message_user(request, str(warning), messages.WARNING)

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path(
                "<int:version_id>/preview/",
                wrap(self.preview_view),
                name="templates_app_templateversion_preview",
            ),
            path(
                "<int:version_id>/send-test/",
                wrap(self.send_test_view),
                name="templates_app_templateversion_send_test",
            ),
            path(
                "<int:version_id>/diff/",
                wrap(self.diff_view),
                name="templates_app_templateversion_diff",
            ),
            *super().get_urls(),
        ]

    def _version(self, request, version_id, *, change: bool) -> TemplateVersion:
        version = get_object_or_404(
            TemplateVersion.objects.select_related("template"), pk=version_id
        )
        allowed = (
            self.has_change_permission(request, version)
            if change
            else self.has_view_permission(request, version)
        )
        if not allowed:
            raise PermissionDenied
        return version

    def preview_view(self, request, version_id):
        """Render the posted (or, on GET, the stored) content with sample data."""
        if request.method not in ("GET", "POST"):
            return HttpResponseNotAllowed(["GET", "POST"])
        if request.method == "POST":
            version = self._version(request, version_id, change=True)
            drafts = preview.drafts_from_post(request.POST)
        else:
            version = self._version(request, version_id, change=False)
            drafts = services.contents_of(version)
        return JsonResponse(preview.version_preview(version=version, drafts=drafts))

    def send_test_view(self, request, version_id):
        """Email the sample rendering of the posted content to the requesting user."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self._version(request, version_id, change=True)
        drafts = preview.drafts_from_post(request.POST)
        try:
            languages = services.version_test_send(
                version=version, contents=drafts, user=request.user
            )
        except (services.AuthoringError, services.rendering.RenderError) as exc:
            return JsonResponse({"ok": False, "error": str(exc)}, status=400)
        except OSError as exc:
            return JsonResponse(
                {
                    "ok": False,
                    "error": gettext("The mail server refused: %(error)s")
                    % {"error": exc},
                },
                status=502,
            )
        return JsonResponse(
            {
                "ok": True,
                "message": gettext("Test sent to %(email)s (%(languages)s).")
                % {"email": request.user.email, "languages": ", ".join(languages)},
            }
        )

    def diff_view(self, request, version_id):
        """Show the differences between two versions per channel and language."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        version = self._version(request, version_id, change=False)
        others = version.template.versions.exclude(pk=version.pk).order_by("-number")
        against_id = request.GET.get("against")
        against = None
        if against_id:
            try:
                against = others.get(pk=int(against_id))
            except (ValueError, TemplateVersion.DoesNotExist):
                raise Http404 from None
        elif others.exists():
            against = others.filter(number__lt=version.number).first() or others[0]
        tables = []
        if against is not None:
            tables = _diff_tables(against, version)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Differences: %(version)s") % {"version": version},
            "version": version,
            "against": against,
            "others": others,
            "tables": tables,
        }
        return TemplateResponse(
            request, "admin/templates_app/templateversion/diff.html", context
        )


def _diff_tables(old: TemplateVersion, new: TemplateVersion) -> list[dict]:
    """Return one side-by-side HTML diff per changed channel, language and field."""
    old_contents = {(c.channel, c.language): c for c in old.contents.all()}
    new_contents = {(c.channel, c.language): c for c in new.contents.all()}
    differ = difflib.HtmlDiff(tabsize=2, wrapcolumn=70)
    tables = []
    for key in sorted(set(old_contents) | set(new_contents)):
        channel, language = key
        for name in CHANNEL_FIELDS[channel]:
            before = getattr(old_contents.get(key), name, "") or ""
            after = getattr(new_contents.get(key), name, "") or ""
            if before == after:
                continue
            tables.append(
                {
                    "channel": channel,
                    "language": language,
                    "field": VersionContent._meta.get_field(name).verbose_name,
                    "table": differ.make_table(
                        before.splitlines(),
                        after.splitlines(),
                        fromdesc=f"v{old.number}",
                        todesc=f"v{new.number}",
                        context=True,
                        numlines=3,
                    ),
                }
            )
    return tables


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
class ContentBlockAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "description", "where_used"]
    readonly_fields = ["where_used"]
    inlines = [ContentBlockVersionInline]
    change_form_template = "admin/templates_app/contentblock/change_form.html"

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

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_start_draft"] = obj is not None and request.user.has_perm(
            "templates_app.add_contentblockversion"
        )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


@admin.register(ContentBlockVersion)
class ContentBlockVersionAdmin(SimpleHistoryAdmin):
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
        "content_hash",
    ]
    readonly_fields = fields
    inlines = [ContentBlockContentInline]

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
