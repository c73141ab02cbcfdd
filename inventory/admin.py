"""Inventory screens: every template and block, near-duplicates, block candidates.

The screens read the latest finished run (`selectors.run_latest`); they never
compute. They are read-only: nothing here is added, changed or deleted by hand.
"""

from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ccm.spreadsheets import csv_writer
from inventory import selectors
from inventory.extraction import ExtractForm, paragraph_extract
from inventory.models import (
    DuplicatePair,
    InventoryItem,
    InventoryRun,
    ParagraphCandidate,
)
from inventory.tasks import analyse
from templates_app.admin_names import channels_shown, languages_shown
from templates_app.services import AuthoringError


def csv_cell(value):
    """Return a CSV cell: dates in ISO form, text neutralised against formulas.

    The writer (`ccm.spreadsheets.csv_writer`) neutralises formula prefixes.
    """
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class ReadOnlyAdmin(admin.ModelAdmin):
    page_title = _("Template inventory")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        run = selectors.run_latest()
        extra_context = {
            **(extra_context or {}),
            "title": self.page_title,
            "inventory_run": run,
            "may_run": request.user.has_perm("inventory.run_inventory"),
            "running": InventoryRun.objects.filter(
                status=InventoryRun.Status.RUNNING,
                started__gte=timezone.now() - timedelta(hours=1),
            ).exists(),
        }
        return super().changelist_view(request, extra_context)


class NotSentFilter(admin.SimpleListFilter):
    """Templates never sent, or not sent for a number of days the operator sets."""

    title = _("not sent for")
    parameter_name = "not_sent_days"

    def lookups(self, request, model_admin):
        return [
            ("never", _("never sent")),
            ("30", _("30 days or more")),
            ("90", _("90 days or more")),
            ("180", _("180 days or more")),
            ("365", _("365 days or more")),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value == "never":
            return queryset.filter(last_sent__isnull=True)
        try:
            days = int(value)
        except ValueError:
            return queryset.none()
        if not 0 <= days <= 36500:
            return queryset.none()
        since = timezone.now() - timedelta(days=days)
        return queryset.filter(Q(last_sent__isnull=True) | Q(last_sent__lt=since))


class UnusedBlockFilter(admin.SimpleListFilter):
    title = _("block use")
    parameter_name = "block_use"

    def lookups(self, request, model_admin):
        return [("unused", _("used by no template in force"))]

    def queryset(self, request, queryset):
        if self.value() == "unused":
            return queryset.filter(kind=InventoryItem.Kind.BLOCK, used_by=0)
        return queryset


class CertificationFilter(admin.SimpleListFilter):
    title = _("re-certification")
    parameter_name = "certification"

    def lookups(self, request, model_admin):
        return [
            ("expired", _("expired")),
            ("due", _("expires within 30 days")),
        ]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "expired":
            return queryset.filter(certified_until__lte=now)
        if self.value() == "due":
            return queryset.filter(
                certified_until__gt=now, certified_until__lte=now + timedelta(days=30)
            )
        return queryset


class LanguageFilter(admin.SimpleListFilter):
    title = _("language")
    parameter_name = "language"

    def lookups(self, request, model_admin):
        return [("en", _("English")), ("ar", _("Arabic"))]

    def queryset(self, request, queryset):
        if self.value() in {"en", "ar"}:
            return queryset.filter(languages__contains=self.value())
        return queryset


class ChannelFilter(admin.SimpleListFilter):
    title = _("channel")
    parameter_name = "channel"

    def lookups(self, request, model_admin):
        return [("email", _("Email")), ("sms", _("SMS")), ("letter", _("Letter"))]

    def queryset(self, request, queryset):
        if self.value() in {"email", "sms", "letter"}:
            return queryset.filter(channels__contains=self.value())
        return queryset


# The CSV columns: field name and heading.
EXPORT_COLUMNS = [
    ("kind", _("kind")),
    ("code", _("code")),
    ("name", _("name")),
    ("category", _("category")),
    ("owner", _("owner")),
    ("languages", _("languages")),
    ("channels", _("channels")),
    ("version_number", _("version in force")),
    ("last_approved", _("last approved")),
    ("certified_until", _("certified until")),
    ("sent_30", _("sent, 30 days")),
    ("sent_365", _("sent, 365 days")),
    ("last_sent", _("last sent")),
    ("complaints_365", _("complaints, 365 days")),
    ("complaint_rate", _("complaint rate")),
    ("blocks", _("blocks used")),
    ("used_by", _("used by templates in force")),
]


@admin.register(InventoryItem)
class InventoryItemAdmin(ReadOnlyAdmin):
    list_display = [
        "code_link",
        "name_column",
        "kind",
        "category_column",
        "owner",
        "languages_list",
        "channels_list",
        "version_number",
        "last_approved",
        "certification",
        "sent_30",
        "sent_365",
        "last_sent",
        "complaint_rate_shown",
        "blocks",
        "used_by",
    ]
    list_filter = [
        "kind",
        "category",
        NotSentFilter,
        UnusedBlockFilter,
        CertificationFilter,
        LanguageFilter,
        ChannelFilter,
    ]
    search_fields = ["code", "name", "owner", "blocks"]
    list_per_page = 100
    ordering = ["-kind", "code"]  # templates first, then blocks
    change_list_template = "admin/inventory/inventoryitem/change_list.html"

    def get_queryset(self, request):
        return selectors.items()

    @admin.display(description=_("code"), ordering="code")
    def code_link(self, item):
        if item.template_id:
            url = reverse(
                "admin:templates_app_template_change", args=[item.template_id]
            )
        elif item.block_id:
            url = reverse(
                "admin:templates_app_contentblock_change", args=[item.block_id]
            )
        else:
            return item.code
        return format_html('<a href="{}">{}</a>', url, item.code)

    @admin.display(description=_("name"), ordering="name")
    def name_column(self, item):
        return format_html("<bdi>{}</bdi>", item.name_shown)

    @admin.display(description=_("category"), ordering="category")
    def category_column(self, item):
        return format_html("<bdi>{}</bdi>", item.category_shown)

    @admin.display(description=_("certified until"), ordering="certified_until")
    def certification(self, item):
        if item.certified_until is None:
            return "-"
        shown = date_format(item.certified_until, "SHORT_DATE_FORMAT")
        if item.certified_until <= timezone.now():
            return format_html(
                '<strong class="inventory-expired">{} {}</strong>',
                gettext("expired"),
                shown,
            )
        return shown

    readonly_fields = ["languages_list", "channels_list"]

    def get_fields(self, request, obj=None):
        shown = {"languages": "languages_list", "channels": "channels_list"}
        return [shown.get(name, name) for name in super().get_fields(request, obj)]

    @admin.display(description=_("languages"), ordering="languages")
    def languages_list(self, item):
        return languages_shown(item.languages.split(", ")) if item.languages else "-"

    @admin.display(description=_("channels"), ordering="channels")
    def channels_list(self, item):
        return channels_shown(item.channels.split(", ")) if item.channels else "-"

    @admin.display(description=_("complaint rate"), ordering="complaint_rate")
    def complaint_rate_shown(self, item):
        if item.complaint_rate is None:
            return "-"
        return f"{item.complaint_rate:.2%}"

    def get_urls(self):
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="inventory_inventoryitem_export",
            ),
            path(
                "run/",
                self.admin_site.admin_view(self.run_view),
                name="inventory_inventoryitem_run",
            ),
            *super().get_urls(),
        ]

    def export_view(self, request):
        """Return the rows the page shows (same filters and order) as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        rows = changelist.get_queryset(request)
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="inventory.csv"'
        response.write("\ufeff")  # Excel reads UTF-8 (Arabic names) with a BOM
        writer = csv_writer(response)
        writer.writerow([str(heading) for _name, heading in EXPORT_COLUMNS])
        for item in rows.iterator(chunk_size=2000):
            writer.writerow(
                [csv_cell(getattr(item, name)) for name, _heading in EXPORT_COLUMNS]
            )
        return response

    def run_view(self, request):
        """Queue an analysis on the housekeeping workers."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("inventory.run_inventory"):
            raise PermissionDenied
        user_id = request.user.pk
        transaction.on_commit(lambda: analyse.delay(requested_by_id=user_id))
        self.message_user(
            request,
            gettext(
                "The analysis was queued; the pages show its results once it finishes."
            ),
            messages.INFO,
        )
        return HttpResponseRedirect(reverse("admin:inventory_inventoryitem_changelist"))


@admin.register(DuplicatePair)
class DuplicatePairAdmin(ReadOnlyAdmin):
    list_display = [
        "left_code",
        "right_code",
        "similarity_shown",
        "difference",
        "cluster_link",
        "kind",
        "compare_link",
    ]
    list_filter = ["kind", "difference"]
    search_fields = ["left__code", "right__code", "left__name", "right__name"]
    list_per_page = 100
    page_title = _("Near-duplicates")
    change_list_template = "admin/inventory/duplicatepair/change_list.html"

    def get_queryset(self, request):
        return selectors.pairs()

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "cluster" or super().lookup_allowed(lookup, value, request)

    @admin.display(description=_("first"), ordering="left__code")
    def left_code(self, pair):
        return pair.left.code

    @admin.display(description=_("second"), ordering="right__code")
    def right_code(self, pair):
        return pair.right.code

    @admin.display(description=_("similarity"), ordering="similarity")
    def similarity_shown(self, pair):
        return f"{pair.similarity:.0%}"

    @admin.display(description=_("cluster"), ordering="cluster_size")
    def cluster_link(self, pair):
        url = reverse("admin:inventory_duplicatepair_changelist")
        return format_html(
            '<a href="{}?cluster={}">{}</a>',
            url,
            pair.cluster,
            ngettext("%(count)s member", "%(count)s members", pair.cluster_size)
            % {"count": pair.cluster_size},
        )

    @admin.display(description=_("comparison"))
    def compare_link(self, pair):
        url = reverse("admin:inventory_duplicatepair_compare", args=[pair.pk])
        return format_html(
            '<a class="inventory-compare" href="{}">{}</a>', url, gettext("compare")
        )

    def get_urls(self):
        return [
            path(
                "<int:pair_id>/compare/",
                self.admin_site.admin_view(self.compare_view),
                name="inventory_duplicatepair_compare",
            ),
            *super().get_urls(),
        ]

    def compare_view(self, request, pair_id):
        """Show the two near-duplicates side by side, paragraph by paragraph."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        pair = get_object_or_404(selectors.pairs(), pk=pair_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("%(left)s and %(right)s")
            % {"left": pair.left.code, "right": pair.right.code},
            "inventory_run": selectors.run_latest(),
            "pair": pair,
            "similarity": f"{pair.similarity:.0%}",
            "slots": selectors.comparison(pair),
            "cluster": selectors.pairs().filter(cluster=pair.cluster),
            "candidates": [
                candidate
                for candidate in selectors.candidates()
                if {pair.left.template_id, pair.right.template_id}
                <= {o["template"] for o in candidate.occurrences}
            ]
            if pair.kind == InventoryItem.Kind.TEMPLATE
            else [],
        }
        return TemplateResponse(
            request, "admin/inventory/duplicatepair/compare.html", context
        )


@admin.register(ParagraphCandidate)
class ParagraphCandidateAdmin(ReadOnlyAdmin):
    list_display = [
        "text_shown",
        "language",
        "template_count",
        "templates_shown",
        "extracted_block",
        "extract_link",
    ]
    list_filter = ["language"]
    search_fields = ["text"]
    list_per_page = 50
    page_title = _("Block candidates")
    change_list_template = "admin/inventory/paragraphcandidate/change_list.html"

    def get_queryset(self, request):
        return selectors.candidates().select_related("extracted_block")

    @admin.display(description=_("paragraph"), ordering="text")
    def text_shown(self, candidate):
        return format_html(
            '<span lang="{}">{}</span>', candidate.language, candidate.text[:300]
        )

    @admin.display(description=_("templates"))
    def templates_shown(self, candidate):
        return ", ".join(sorted({o["code"] for o in candidate.occurrences}))[:300]

    @admin.display(description=_("action"))
    def extract_link(self, candidate):
        if candidate.extracted_block_id:
            return "-"
        url = reverse("admin:inventory_paragraphcandidate_extract", args=[candidate.pk])
        return format_html(
            '<a class="inventory-extract-link" href="{}">{}</a>',
            url,
            gettext("Extract into a block"),
        )

    def get_urls(self):
        return [
            path(
                "<int:candidate_id>/extract/",
                self.admin_site.admin_view(self.extract_view),
                name="inventory_paragraphcandidate_extract",
            ),
            *super().get_urls(),
        ]

    def extract_view(self, request, candidate_id):
        """Draft a block from the paragraph, and template drafts that use it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        candidate = get_object_or_404(selectors.candidates(), pk=candidate_id)
        form = ExtractForm(request.POST or None, candidate=candidate)
        if candidate.extracted_block_id:
            form = None
        if request.method == "POST" and form is not None and form.is_valid():
            try:
                result = paragraph_extract(
                    candidate=candidate,
                    actor=request.user,
                    code=form.cleaned_data["code"],
                    name=form.cleaned_data["name"],
                )
            except (AuthoringError, ValidationError) as exc:
                form.add_error(None, "; ".join(getattr(exc, "messages", [str(exc)])))
            else:
                for note in result.notes:
                    self.message_user(request, note, messages.WARNING)
                self.message_user(
                    request,
                    ngettext(
                        "Block %(block)s drafted and submitted for review with "
                        "%(count)s template draft that uses it.",
                        "Block %(block)s drafted and submitted for review with "
                        "%(count)s template drafts that use it.",
                        len(result.versions),
                    )
                    % {"block": result.block.code, "count": len(result.versions)},
                )
                return HttpResponseRedirect(
                    reverse("admin:templates_app_templateversion_changelist")
                    + "?status__exact=in_review"
                )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": gettext("Extract a paragraph into a content block"),
            "inventory_run": selectors.run_latest(),
            "candidate": candidate,
            "form": form,
            "templates": sorted({o["code"] for o in candidate.occurrences}),
        }
        return TemplateResponse(
            request, "admin/inventory/paragraphcandidate/extract.html", context
        )
