"""Admin screens for batch runs: upload a CSV file, watch the run's progress,
read its refused rows, resume a failed run.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from audit.admin import AuditedAdminMixin
from channels_app import batch_rows, batches
from channels_app.admin_base import ReadOnlyAdmin
from channels_app.dispatching import AUTO
from channels_app.models import Batch, Channel
from templates_app.selectors import version_in_force


class BatchUploadForm(forms.Form):
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=None,
        to_field_name="code",
        help_text=_("Only templates with an approved version in force are listed."),
    )
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: each customer's preferred channel (auto)."),
    )
    schedule = forms.DateTimeField(
        label=_("Send at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty to send as soon as each row is processed."),
    )
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8; the first line names the columns. external_id is required; "
            "name, email, phone, language, time_zone and postal_address update "
            "the customer; correlation_key and source_reference go with the "
            "communication; every other column is data (account.number nests)."
        ),
    )

    def __init__(self, *args, **kwargs):
        from templates_app.models import EVER_APPROVED_STATUSES, Template

        super().__init__(*args, **kwargs)
        now = timezone.now()
        self.fields["template"].queryset = (
            Template.objects.filter(
                Q(versions__status__in=EVER_APPROVED_STATUSES)
                & Q(versions__effective_from__lte=now)
                & (
                    Q(versions__effective_until__isnull=True)
                    | Q(versions__effective_until__gt=now)
                )
            )
            .distinct()
            .order_by("name")
        )


@admin.register(Batch)
class BatchAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    """Batch runs: upload a CSV, watch its progress, read its refused rows."""

    change_list_template = "admin/channels_app/batch/change_list.html"
    change_form_template = "admin/channels_app/batch/change_form.html"
    list_display = [
        "created",
        "template_code",
        "source",
        "status",
        "progress",
        "accepted",
        "refused",
        "requester_label",
    ]
    list_filter = ["status", "template_code", ("created", admin.DateFieldListFilter)]
    search_fields = ["=public_id", "file_name", "=idempotency_key"]
    date_hierarchy = "created"
    fields = [
        "public_id",
        "template_code",
        "channels_label",
        "source",
        "requester_label",
        "requested_by",
        "idempotency_key",
        "scheduled_for",
        "created",
        "started",
        "finished",
        "error",
    ]
    actions = ["resume"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_change_permission(self, request, obj=None) -> bool:
        # Change permission drives the resume action; the page stays read-only.
        return obj is None and request.user.has_perm("channels_app.change_batch")

    @admin.display(description=_("channels"))
    def channels_label(self, batch: Batch) -> str:
        return batches.batch_channels_label(batch)

    @admin.display(description=_("source"), ordering="file_name")
    def source(self, batch: Batch) -> str:
        return batch.file_name or batch.source_system

    @admin.display(description=_("progress"))
    def progress(self, batch: Batch) -> str:
        return format_html(
            '<progress value="{}" max="{}"></progress> {} / {}',
            batch.processed,
            batch.total or 1,
            batch.processed,
            batch.total,
        )

    def get_urls(self):
        return [
            path(
                "upload/",
                self.admin_site.admin_view(self.upload_view),
                name="channels_app_batch_upload",
            ),
            path(
                "<int:batch_id>/progress/",
                self.admin_site.admin_view(self.progress_view),
                name="channels_app_batch_progress",
            ),
            *super().get_urls(),
        ]

    def upload_view(self, request):
        """Check a CSV file whole, then store it as a batch and start its run."""
        if not request.user.has_perm("channels_app.add_batch"):
            raise PermissionDenied
        form = BatchUploadForm(request.POST or None, request.FILES or None)
        problems: list[str] = []
        if request.method == "POST" and form.is_valid():
            template = form.cleaned_data["template"]
            upload = form.cleaned_data["file"]
            # Cells are typed by the schema approved with the version in force.
            in_force = version_in_force(template)
            schema = (in_force or template).data_schema or {}
            try:
                rows = batch_rows.batch_rows_from_csv(upload, schema=schema)
                batch = batches.batch_create(
                    template_code=template.code,
                    channels=form.cleaned_data["channels"] or AUTO,
                    rows=rows,
                    requested_by=request.user,
                    requester_label=request.user.get_username(),
                    source_system="admin",
                    file_name=upload.name[:255],
                    scheduled_for=form.cleaned_data["schedule"],
                )
            except batch_rows.BatchRefused as exc:
                problems = exc.messages()
            else:
                messages.success(
                    request,
                    ngettext(
                        "%(count)d row stored; the batch runs now.",
                        "%(count)d rows stored; the batch runs now.",
                        batch.total,
                    )
                    % {"count": batch.total},
                )
                return redirect("admin:channels_app_batch_change", batch.pk)
        return render(
            request,
            "admin/channels_app/batch/upload.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Upload a CSV batch"),
                "form": form,
                "problems": problems,
                "opts": self.model._meta,
            },
        )

    def progress_view(self, request, batch_id: int):
        """Return a batch's counters as JSON, for the progress bar."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        batch = get_object_or_404(Batch, pk=batch_id)
        return JsonResponse(_progress(batch))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = get_object_or_404(Batch, pk=object_id)
        extra_context = {
            **(extra_context or {}),
            "progress": _progress(batch),
            "progress_url": reverse(
                "admin:channels_app_batch_progress", args=[batch.pk]
            ),
            "refused_rows": batches.batch_row_problems(batch=batch, limit=200),
            "communications_url": reverse("admin:channels_app_communication_changelist")
            + f"?q={batch.public_id}",
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(
        description=_("Resume the selected failed batches"),
        permissions=["change"],
    )
    def resume(self, request, queryset):
        resumed = 0
        for batch in queryset:
            try:
                batches.batch_resume(batch=batch, actor=request.user)
                resumed += 1
            except ValueError as exc:
                messages.error(request, str(exc))
        if resumed:
            messages.success(
                request,
                ngettext(
                    "%(count)d batch resumed.", "%(count)d batches resumed.", resumed
                )
                % {"count": resumed},
            )


def _progress(batch: Batch) -> dict:
    return {
        "status": batch.status,
        "status_label": str(batch.get_status_display()),
        "total": batch.total,
        "processed": batch.processed,
        "accepted": batch.accepted,
        "refused": batch.refused,
        "percent": round(100 * batch.processed / batch.total) if batch.total else 100,
        "error": batch.error,
        "running": batch.status in {Batch.Status.PENDING, Batch.Status.RUNNING},
    }
