"""Admin screens for authors: templates, drafts with live preview, blocks."""

import difflib

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
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

from audit.admin import AuditedAdminMixin
from templates_app import (
    category_admin,  # noqa: F401 (registers the category screens)
    preview,
    recertification_admin,
    selectors,
    services,
)
from templates_app.forms import (
    BlockContentFormSet,
    TemplateForm,
    VersionContentForm,
    VersionContentFormSet,
)
from templates_app.models import (
    CHANNEL_FIELDS,
    HASH_SCHEME_SETTINGS,
    Category,
    ContentBlock,
    ContentBlockContent,
    ContentBlockVersion,
    Status,
    Template,
    TemplateVersion,
    VersionContent,
)
from templates_app.version_settings import settings_differ, settings_rows

WORKFLOW_ERRORS = (services.AuthoringError, ValidationError)


def category_ids(request, *codenames: str) -> frozenset[int]:
    """Return the categories the requesting user holds any of `codenames` on.

    Computed once per request, so list pages make one permission query whatever
    the number of rows.
    """
    cache = request.__dict__.setdefault("_tpl_category_ids", {})
    if codenames not in cache:
        cache[codenames] = selectors.category_ids_for(request.user, *codenames)
    return cache[codenames]


def authored(request) -> frozenset[int]:
    return category_ids(request, selectors.AUTHOR)


def reviewed(request) -> frozenset[int]:
    return category_ids(request, selectors.REVIEW)


def visible(request) -> frozenset[int]:
    return category_ids(request, *selectors.CATEGORY_PERMISSIONS)


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

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        context["can_start_draft"] = (
            obj is not None
            and request.user.has_perm("templates_app.add_templateversion")
            and obj.category_id in authored(request)
        )
        if obj is not None:
            in_force = selectors.version_in_force(obj)
            context["in_force"] = in_force
            context["settings_pending"] = (
                [row for row in settings_rows(in_force, obj) if row.changed]
                if in_force is not None
                else []
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


class CommentForm(forms.Form):
    comment = forms.CharField(
        label=_("comment"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


def _submit_versions(modeladmin, request, queryset):
    """Submit each selected draft; report each refusal by name."""
    for version in queryset:
        try:
            services.version_submit(version=version, actor=request.user)
        except WORKFLOW_ERRORS as exc:
            modeladmin.message_user(request, f"{version}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                gettext("%(version)s submitted for review.") % {"version": version},
            )


_submit_versions.short_description = _("Submit selected drafts for review")


@admin.register(TemplateVersion)
class TemplateVersionAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = [
        "template",
        "number",
        "status",
        "author",
        "effective_from",
        "effective_until",
        "updated",
        "short_hash",
        recertification_admin.certification,
    ]
    list_filter = [
        "status",
        "template__category",
        recertification_admin.CertificationFilter,
    ]
    search_fields = ["template__code", "template__name"]
    list_select_related = ["template", "author", "category"]
    actions = [_submit_versions, recertification_admin.recertify_versions]
    fields = [
        "template",
        "number",
        "status",
        "author",
        "based_on",
        "created",
        "updated",
        "submitted_at",
        "decided_at",
        "rejection_reason",
        "effective_from",
        "effective_until",
        "content_hash",
        "pinned_blocks",
        "approval_list",
    ]
    schedule_fields = ("effective_from", "effective_until")
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
                '<a href="{}">{} v{}</a> ({})',
                (
                    (
                        reverse(
                            "admin:templates_app_contentblockversion_change",
                            args=[pin.block_version_id],
                        ),
                        pin.block_version.block.code,
                        pin.block_version.number,
                        pin.block_version.get_status_display(),
                    )
                    for pin in pins
                ),
            )
            or "-"
        )

    @admin.display(description=_("approvals"))
    def approval_list(self, version):
        approvals = selectors.approvals_current(version)
        return (
            format_html_join(
                "",
                "<div>{} · {} · {}</div>",
                (
                    (a.reviewer, a.at.strftime("%Y-%m-%d %H:%M"), a.comment or "-")
                    for a in approvals
                ),
            )
            or "-"
        )

    def get_queryset(self, request):
        # A version is also visible in the category it carries: a template
        # moved after submission is still reviewed where it was submitted.
        categories = visible(request)
        return recertification_admin.queryset_annotate(
            super()
            .get_queryset(request)
            .filter(
                Q(template__category_id__in=categories) | Q(category_id__in=categories)
            )
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and self.has_change_permission(request, obj):
            return [f for f in self.fields if f not in self.schedule_fields]
        return self.fields

    def has_add_permission(self, request):
        # Drafts start from a template ("New draft"), which numbers them.
        return False

    def has_view_permission(self, request, obj=None):
        categories = visible(request)
        if obj is not None and not (
            obj.template.category_id in categories or obj.category_id in categories
        ):
            return False
        return super().has_view_permission(request, obj)

    def has_change_permission(self, request, obj=None):
        if obj is not None and (
            not obj.is_editable or obj.template.category_id not in authored(request)
        ):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and (
            not obj.is_editable or obj.template.category_id not in authored(request)
        ):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        # Content is saved through the service in save_related; the row itself
        # holds only the schedule the author proposes.
        if any(name in form.changed_data for name in self.schedule_fields):
            try:
                services.version_schedule_set(
                    version=obj,
                    actor=request.user,
                    effective_from=form.cleaned_data.get("effective_from"),
                    effective_until=form.cleaned_data.get("effective_until"),
                )
            except services.AuthoringError as exc:
                raise PermissionDenied(str(exc)) from exc

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

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context.update(self._workflow_context(request, obj))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def _workflow_context(self, request, version) -> dict:
        category_id = version.template.category_id
        may_author = category_id in authored(request) and request.user.has_perm(
            "templates_app.change_templateversion"
        )
        # Reviewed in the category it would be sent under.
        may_review = version.category_id in reviewed(request)
        return {
            "may_submit": may_author and version.status == Status.DRAFT,
            "may_withdraw": may_author and version.status == Status.IN_REVIEW,
            "may_redraft": may_author
            and version.status != Status.DRAFT
            and not version.template.versions.filter(
                status__in=[Status.DRAFT, Status.IN_REVIEW]
            ).exists(),
            "may_retire": may_review and version.status == Status.APPROVED,
            "may_review": may_review and version.status == Status.IN_REVIEW,
        }

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
            path(
                "<int:version_id>/review/",
                wrap(self.review_view),
                name="templates_app_templateversion_review",
            ),
            path(
                "<int:version_id>/workflow/<str:verb>/",
                wrap(self.transition_view),
                name="templates_app_templateversion_transition",
            ),
            *super().get_urls(),
        ]

    def _version(self, request, version_id, *, change: bool) -> TemplateVersion:
        version = get_object_or_404(
            TemplateVersion.objects.select_related("template__category", "category"),
            pk=version_id,
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

    def review_view(self, request, version_id):
        """Show a reviewer everything the decision rests on, with the decision forms."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        version = self._version(request, version_id, change=False)
        in_force = selectors.version_in_force(version.template)
        against = in_force if in_force and in_force.pk != version.pk else None
        against = against or version.based_on
        workflow = self._workflow_context(request, version)
        refusal = ""
        if workflow["may_review"] and request.user.pk in selectors.version_editors(
            version
        ):
            workflow["may_review"] = False
            refusal = gettext(
                "Segregation of duties: you wrote or edited this version, so you "
                "may not approve it."
            )
        context = {
            **self.admin_site.each_context(request),
            **workflow,
            "opts": self.model._meta,
            "title": gettext("Review: %(version)s") % {"version": version},
            "version": version,
            "category": version.category,
            "in_force": in_force,
            "against": against,
            "settings_rows": settings_rows(against, version),
            "legacy_hash": version.hash_scheme < HASH_SCHEME_SETTINGS,
            "tables": _diff_tables(against, version) if against else [],
            "pins": version.pins.select_related("block_version__block").order_by(
                "block_version__block__code"
            ),
            "approvals": selectors.approvals_current(version),
            "hash_ok": services.version_hash_ok(version),
            "refusal": refusal,
            "comment_form": CommentForm(),
        }
        return TemplateResponse(
            request, "admin/templates_app/templateversion/review.html", context
        )

    TRANSITIONS = {
        "submit": services.version_submit,
        "withdraw": services.version_withdraw,
        "approve": services.version_approve,
        "reject": services.version_reject,
        "retire": services.version_retire,
    }

    def transition_view(self, request, version_id, verb):
        """Apply one workflow service to a version; show its refusal if any."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb != "redraft" and verb not in self.TRANSITIONS:
            raise Http404
        version = self._version(request, version_id, change=False)
        form = CommentForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        back = reverse("admin:templates_app_templateversion_review", args=[version.pk])
        if verb in ("submit", "withdraw"):
            back = reverse(
                "admin:templates_app_templateversion_change", args=[version.pk]
            )
        try:
            if verb == "redraft":
                draft = services.version_draft_create(
                    template=version.template, author=request.user, source=version
                )
                self.message_user(
                    request,
                    gettext("Draft version %(number)s created from v%(source)s.")
                    % {"number": draft.number, "source": version.number},
                )
                return HttpResponseRedirect(
                    reverse(
                        "admin:templates_app_templateversion_change", args=[draft.pk]
                    )
                )
            version = self.TRANSITIONS[verb](
                version=version, actor=request.user, comment=comment
            )
        except WORKFLOW_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(back)
        self.message_user(
            request,
            gettext("%(version)s is now %(status)s.")
            % {"version": version, "status": version.get_status_display()},
        )
        return HttpResponseRedirect(back)


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
class ContentBlockAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    fields = ["code", "name", "description", "where_used"]
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
class ContentBlockVersionAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
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
            may_author = request.user.has_perm(
                "templates_app.change_contentblockversion"
            )
            may_review = request.user.has_perm("templates_app.review_contentblock")
            context.update(
                may_submit=may_author and obj.status == Status.DRAFT,
                may_withdraw=may_author and obj.status == Status.IN_REVIEW,
                may_review=may_review
                and obj.status == Status.IN_REVIEW
                and request.user.pk not in selectors.block_version_editors(obj),
                may_retire=may_review and obj.status == Status.APPROVED,
                approvals=selectors.approvals_current(obj),
                comment_form=CommentForm(),
            )
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    TRANSITIONS = {
        "submit": services.block_submit,
        "withdraw": services.block_withdraw,
        "approve": services.block_approve,
        "reject": services.block_reject,
        "retire": services.block_retire,
    }

    def get_urls(self):
        return [
            path(
                "<int:version_id>/workflow/<str:verb>/",
                self.admin_site.admin_view(self.transition_view),
                name="templates_app_contentblockversion_transition",
            ),
            *super().get_urls(),
        ]

    def transition_view(self, request, version_id, verb):
        """Apply one workflow service to a block version; show its refusal if any."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if verb not in self.TRANSITIONS:
            raise Http404
        block_version = get_object_or_404(ContentBlockVersion, pk=version_id)
        if not self.has_view_permission(request, block_version):
            raise PermissionDenied
        form = CommentForm(request.POST)
        comment = form.cleaned_data["comment"] if form.is_valid() else ""
        back = reverse(
            "admin:templates_app_contentblockversion_change", args=[version_id]
        )
        try:
            block_version = self.TRANSITIONS[verb](
                block_version=block_version, actor=request.user, comment=comment
            )
        except WORKFLOW_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext("%(version)s is now %(status)s.")
                % {
                    "version": block_version,
                    "status": block_version.get_status_display(),
                },
            )
        return HttpResponseRedirect(back)
