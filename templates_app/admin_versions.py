"""Admin screens of template versions: drafting with preview, diff, review."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
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
from django.utils import formats, timezone
from django.utils.html import format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from templates_app import (
    preview,
    recertification_admin,
    rendering,
    selectors,
    services,
)
from templates_app.admin_workflow import (
    WORKFLOW_ERRORS,
    WorkflowAdminMixin,
    authored,
    reviewed,
    visible,
)
from templates_app.diffs import source_diff
from templates_app.forms import VersionContentForm, VersionContentFormSet
from templates_app.models import (
    CHANNEL_FIELDS,
    HASH_SCHEME_SETTINGS,
    Channel,
    Language,
    Status,
    TemplateVersion,
    VersionContent,
)
from templates_app.recertification import recertifications_due_for
from templates_app.review_queue import review_queue
from templates_app.schema_draft import template_schema_draft
from templates_app.version_settings import settings_rows
from templates_app.word_diff import word_diffs


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


# Every field the page shows, read-only unless the version is editable.
VERSION_FIELDS = [
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


@admin.register(TemplateVersion)
class TemplateVersionAdmin(WorkflowAdminMixin, AuditedAdminMixin, SimpleHistoryAdmin):
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
    schedule_fields = ("effective_from", "effective_until")
    # What an author and a reviewer read first; the record of the version's
    # life folds away, so the content starts within the first screen.
    fieldsets = [
        (
            None,
            {
                "fields": [
                    ("template", "number", "status"),
                    ("author", "approval_list"),
                    "pinned_blocks",
                    "rejection_reason",
                ]
            },
        ),
        (_("When it is in force"), {"fields": [schedule_fields]}),
        (
            _("Record"),
            {
                "classes": ["collapse"],
                "fields": [
                    "based_on",
                    ("created", "updated"),
                    ("submitted_at", "decided_at"),
                    "content_hash",
                ],
            },
        ),
    ]
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
                    (
                        a.reviewer,
                        formats.date_format(
                            timezone.localtime(a.at), "SHORT_DATETIME_FORMAT"
                        ),
                        a.comment or "-",
                    )
                    for a in approvals
                ),
            )
            or "-"
        )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not authored(request):
            # Only authors submit; a reviewer is not offered what they cannot use.
            actions.pop("_submit_versions", None)
        return actions

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
            return [f for f in VERSION_FIELDS if f not in self.schedule_fields]
        return VERSION_FIELDS

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
        # The tabs read a read-only content's channel and language by label.
        context["tab_codes"] = {
            str(label): code for code, label in [*Channel.choices, *Language.choices]
        }
        response = super().render_change_form(
            request, context, *args, obj=obj, **kwargs
        )
        response._csp_update = preview.PREVIEW_HOST_CSP  # srcdoc preview frames
        return response

    def _workflow_context(self, request, version) -> dict:
        context = self.workflow_context(request, version)
        context["may_redraft"] = (
            version.status != Status.DRAFT
            and version.template.category_id in authored(request)
            and request.user.has_perm("templates_app.add_templateversion")
            and not version.template.versions.filter(
                status__in=[Status.DRAFT, Status.IN_REVIEW]
            ).exists()
        )
        return context

    def get_urls(self):
        def wrap(view):
            return self.admin_site.admin_view(view)

        return [
            path(
                "review-queue/",
                wrap(self.review_queue_view),
                name="templates_app_review_queue",
            ),
            path(
                "<int:version_id>/schema-draft/",
                wrap(self.schema_draft_view),
                name="templates_app_templateversion_schema_draft",
            ),
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
            *self.workflow_urls(),
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

    def schema_draft_view(self, request, version_id):
        """Add the values the typed content uses to the schema, then save it.

        The posted form is handed on to the change view, so the author's
        content is saved when it is now valid, or shown again with its errors.
        """
        change = reverse(
            "admin:templates_app_templateversion_change", args=[version_id]
        )
        if request.method != "POST":
            return HttpResponseRedirect(change)
        version = self._version(request, version_id, change=True)
        drafts = preview.drafts_from_post(request.POST)
        sources = [(name, text) for d in drafts for name, text in d.sources().items()]
        try:
            added = template_schema_draft(
                template=version.template, actor=request.user, sources=sources
            )
        except WORKFLOW_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(
                request,
                gettext(
                    "Added to the template's schema and sample data: %(names)s. "
                    "Check their types and which are required on the template."
                )
                % {"names": ", ".join(added)}
                if added
                else gettext("The schema already declares every value used."),
            )
        response = self.changeform_view(request, str(version_id))
        if response.status_code == 302:
            return HttpResponseRedirect(change)
        return response

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
        except (services.AuthoringError, rendering.RenderError) as exc:
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
            "word_diffs": word_diffs(against, version) if against else [],
            "pins": version.pins.select_related("block_version__block").order_by(
                "block_version__block__code"
            ),
            "hash_ok": services.version_hash_ok(version),
        }
        response = TemplateResponse(
            request, "admin/templates_app/templateversion/review.html", context
        )
        response._csp_update = preview.PREVIEW_HOST_CSP  # srcdoc preview frames
        return response

    def review_queue_view(self, request):
        """List what awaits the user's review, the longest waiting first."""
        if request.method != "GET":
            return HttpResponseNotAllowed(["GET"])
        if not (
            request.user.has_perm("templates_app.view_templateversion")
            or request.user.has_perm("templates_app.view_contentblockversion")
        ):
            raise PermissionDenied
        items = review_queue(request.user)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Awaiting my review"),
            "items": items,
            # Approved versions whose approval expired or soon will: they stay
            # in force and wait here until a reviewer re-certifies them.
            "recertify": recertifications_due_for(request.user),
            "recertify_list": reverse("admin:templates_app_templateversion_changelist"),
            "reviews_anything": bool(reviewed(request))
            or request.user.has_perm("templates_app.review_contentblock"),
        }
        return TemplateResponse(
            request, "admin/templates_app/review_queue.html", context
        )

    def workflow_subject(self, request, version_id):
        return self._version(request, version_id, change=False)

    def workflow_back(self, subject, verb: str) -> str:
        name = "change" if verb in ("submit", "withdraw") else "review"
        return reverse(f"admin:templates_app_templateversion_{name}", args=[subject.pk])

    def transition_view(self, request, version_id, verb):
        """Apply a workflow service, or start a new draft from this version."""
        if verb != "redraft":
            return super().transition_view(request, version_id, verb)
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        version = self._version(request, version_id, change=False)
        try:
            draft = services.version_draft_create(
                template=version.template, author=request.user, source=version
            )
        except WORKFLOW_ERRORS as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(self.workflow_back(version, verb))
        self.message_user(
            request,
            gettext("Draft version %(number)s created from v%(source)s.")
            % {"number": draft.number, "source": version.number},
        )
        return HttpResponseRedirect(
            reverse("admin:templates_app_templateversion_change", args=[draft.pk])
        )


def _diff_tables(old: TemplateVersion, new: TemplateVersion) -> list[dict]:
    """Return one bounded side-by-side diff per changed channel, language and field."""
    old_contents = {(c.channel, c.language): c for c in old.contents.all()}
    new_contents = {(c.channel, c.language): c for c in new.contents.all()}
    tables = []
    for key in sorted(set(old_contents) | set(new_contents)):
        channel, language = key
        for name in CHANNEL_FIELDS[channel]:
            before = getattr(old_contents.get(key), name, "") or ""
            after = getattr(new_contents.get(key), name, "") or ""
            if before == after:
                continue
            difference = source_diff(
                before, after, fromdesc=f"v{old.number}", todesc=f"v{new.number}"
            )
            tables.append(
                {
                    "channel": channel,
                    "language": language,
                    "field": VersionContent._meta.get_field(name).verbose_name,
                    "table": difference.html,
                    "notes": difference.notes,
                }
            )
    return tables
