"""Erasure requests in the admin: the list, the request form, and exports."""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from subject_rights.erasure import customer_erase
from subject_rights.export import customer_export, customer_export_pdf, export_record
from subject_rights.models import ErasureRequest

# What each count of a request's "erased" names.
ERASED_LABELS = {
    "dispatches": _("dispatches (copies, PDFs, addresses, snapshots)"),
    "feedback": _("complaints and feedback"),
    "escalations": _("escalations"),
    "reissue_reasons": _("reissue reasons"),
    "embedded_mail": _("messages in the embedded mailbox"),
    "inbound_messages": _("inbound messages"),
    "queued_triggers": _("queued API triggers (refused)"),
    "suppressions": _("suppressions"),
    "preferences": _("preference entries"),
    "customer_history": _("customer history rows"),
    "customer": _("customer record"),
    "audit_keys": _("audit keys destroyed"),
}


class ErasureForm(forms.Form):
    """Whose data to erase, why, and the request's reference."""

    external_id = forms.CharField(label=_("customer's external id"), max_length=100)
    reason = forms.CharField(
        label=_("reason"), widget=forms.Textarea(attrs={"rows": 3})
    )
    reference = forms.CharField(label=_("reference"), max_length=200)
    confirm = forms.BooleanField(
        label=_("I understand the personal data cannot be restored afterwards")
    )

    def clean_external_id(self) -> Customer:
        external_id = self.cleaned_data["external_id"].strip()
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise ValidationError(
                _("No customer has the external id %(id)s."), params={"id": external_id}
            )
        return customer


@admin.register(ErasureRequest)
class ErasureRequestAdmin(admin.ModelAdmin):
    """Erasure requests, newest first; a request is made by the form, never edited."""

    list_display = (
        "requested_at",
        "reference",
        "customer_link",
        "status",
        "source",
        "requester_label",
        "exports",
    )
    list_filter = ("status", "source", "requested_at")
    search_fields = ("reference", "=customer__id")
    readonly_fields = (
        "customer",
        "reference",
        "reason",
        "source",
        "requester_label",
        "requested_at",
        "status",
        "erased_shown",
        "kept_shown",
    )
    fields = readonly_fields

    @admin.display(description=_("customer"))
    def customer_link(self, request_row: ErasureRequest) -> str:
        return f"#{request_row.customer_id}"

    @admin.display(description=_("export"))
    def exports(self, request_row: ErasureRequest) -> str:
        return format_html(
            '<a href="{}">JSON</a> · <a href="{}">PDF</a>',
            reverse(
                "admin:subject_rights_export", args=[request_row.customer_id, "json"]
            ),
            reverse(
                "admin:subject_rights_export", args=[request_row.customer_id, "pdf"]
            ),
        )

    @admin.display(description=_("erased"))
    def erased_shown(self, request_row: ErasureRequest) -> str:
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                "<tr><th>{}</th><td>{}</td></tr>",
                (
                    (ERASED_LABELS.get(kind, kind), count)
                    for kind, count in request_row.erased.items()
                ),
            ),
        )

    @admin.display(description=_("kept, and why"))
    def kept_shown(self, request_row: ErasureRequest) -> str:
        if not request_row.kept:
            return _("Nothing: everything was erased.")
        return format_html(
            "<table>{}</table>",
            format_html_join(
                "",
                '<tr><th>{} ({})</th><td>{} <span dir="ltr">{}</span></td></tr>',
                (
                    (item["what"], item["count"], item["why"], item["reference"])
                    for item in request_row.kept
                ),
            ),
        )

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [
            path(
                "export/<int:customer_pk>/<str:fmt>/",
                self.admin_site.admin_view(self.export_view),
                name="subject_rights_export",
            ),
            path(
                "export/",
                self.admin_site.admin_view(self.export_find_view),
                name="subject_rights_export_find",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url="", extra_context=None):
        """Erase a customer's personal data: the request form."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ErasureForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                done = customer_erase(
                    customer=form.cleaned_data["external_id"],
                    actor=request.user,
                    reason=form.cleaned_data["reason"],
                    reference=form.cleaned_data["reference"],
                    source=ErasureRequest.Source.ADMIN,
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error(None, message)
            else:
                messages.success(
                    request,
                    _("Erasure request %(reference)s: %(status)s.")
                    % {
                        "reference": done.reference,
                        "status": done.get_status_display(),
                    },
                )
                return redirect("admin:subject_rights_erasurerequest_change", done.pk)
        return TemplateResponse(
            request,
            "admin/subject_rights/erasurerequest/erase.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Erase a customer's personal data"),
                "form": form,
                "opts": self.model._meta,
            },
        )

    def export_find_view(self, request: HttpRequest) -> HttpResponse:
        """Find a customer by external id and offer the export."""
        if not request.user.has_perm("subject_rights.export_subject_data"):
            raise PermissionDenied
        external_id = request.GET.get("external_id", "").strip()
        customer = (
            Customer.objects.filter(external_id=external_id).first()
            if external_id
            else None
        )
        return TemplateResponse(
            request,
            "admin/subject_rights/erasurerequest/export.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Export what is held about a customer"),
                "external_id": external_id,
                "customer": customer,
                "opts": self.model._meta,
            },
        )

    def export_view(self, request: HttpRequest, customer_pk: int, fmt: str):
        """Download what is held about a customer, as JSON or PDF."""
        if not request.user.has_perm("subject_rights.export_subject_data"):
            raise PermissionDenied
        if fmt not in ("json", "pdf"):
            return HttpResponse(
                _("Unknown export format; use json or pdf."), status=400
            )
        customer = get_object_or_404(Customer, pk=customer_pk)
        export = customer_export(customer)
        export_record(customer=customer, actor=request.user, fmt=fmt)
        name = f"customer-{customer.pk}-export.{fmt}"
        if fmt == "pdf":
            response = HttpResponse(
                customer_export_pdf(export), content_type="application/pdf"
            )
        else:
            response = HttpResponse(
                json.dumps(export, ensure_ascii=False, indent=1),
                content_type="application/json; charset=utf-8",
            )
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
