"""Admin screens for operators: customers, the ledger, dispatches, escalations,
batch runs.

Screens call services for every change; dispatches, communications and batch
runs are read-only records, moved only by their actions.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from ccm.bidi import bidi_visible
from ccm.moments import moment_display
from channels_app import batch_rows, batches, lifecycle, pauses, services
from channels_app.dispatching import AUTO, TriggerRefused, communication_trigger
from channels_app.models import (
    Batch,
    Channel,
    Communication,
    Dispatch,
    DispatchAttempt,
    DispatchStatusChange,
    Escalation,
)
from customers import services as customer_services
from customers.models import Customer, PreferenceEntry, Suppression
from customers.reasons import reason_display
from rules.labels import outcome_label, stage_label
from templates_app.selectors import version_in_force


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record shown, never saved: its changes go through the services' actions."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # A save would write the whole row back, status included, beside the
        # lifecycle and with no audit event.
        if request.method == "POST":
            raise PermissionDenied(_("This record is read-only."))
        return super().changeform_view(request, object_id, form_url, extra_context)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = [
            "external_id",
            "name",
            "language",
            "time_zone",
            "email",
            "phone",
            "postal_address",
        ]


class SendForm(forms.Form):
    template = forms.SlugField(label=_("Template code"))
    channels = forms.MultipleChoiceField(
        label=_("Channels"),
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: the customer's preferred channel (auto)."),
    )
    data = forms.JSONField(
        label=_("Data"), widget=forms.Textarea(attrs={"rows": 12, "cols": 80})
    )
    reason = forms.CharField(label=_("Reason"), max_length=2000)
    correlation_key = forms.CharField(
        label=_("Correlation key"),
        max_length=200,
        required=False,
        help_text=_("An account or case number shared by related communications."),
    )
    supersedes = forms.MultipleChoiceField(
        label=_("Supersedes"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Pending communications of these templates to this customer (with "
            "the same correlation key) are cancelled."
        ),
    )
    waits_for = forms.MultipleChoiceField(
        label=_("Waits for"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "This communication goes only once none of these templates is "
            "pending for this customer (same correlation key)."
        ),
    )

    def __init__(self, *args, **kwargs):
        from templates_app.models import Template

        super().__init__(*args, **kwargs)
        codes = [
            (code, code)
            for code in Template.objects.order_by("code").values_list("code", flat=True)
        ]
        self.fields["supersedes"].choices = codes
        self.fields["waits_for"].choices = codes


@admin.register(Customer)
class CustomerAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    form = CustomerForm
    change_form_template = "admin/channels_app/customer/change_form.html"

    def get_urls(self):
        return [
            path(
                "<int:customer_id>/send/",
                self.admin_site.admin_view(self.send_view),
                name="channels_app_customer_send",
            ),
            *super().get_urls(),
        ]

    def send_view(self, request, customer_id: int):
        """Send one communication to this customer, as an operator."""
        if not request.user.has_perm("channels_app.add_communication"):
            raise PermissionDenied
        customer = get_object_or_404(Customer, pk=customer_id)
        form = SendForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                communication = communication_trigger(
                    template_code=form.cleaned_data["template"],
                    customer=customer,
                    data=form.cleaned_data["data"],
                    channels=form.cleaned_data["channels"] or AUTO,
                    requested_by=request.user,
                    requester_label=request.user.get_username(),
                    source_system="admin",
                    source_reference=f"customer {customer.external_id}",
                    reason=form.cleaned_data["reason"],
                    correlation_key=form.cleaned_data["correlation_key"],
                    supersedes=form.cleaned_data["supersedes"],
                    waits_for=form.cleaned_data["waits_for"],
                )
            except TriggerRefused as exc:
                for field, problems in exc.problems.items():
                    target = field if field in form.fields else None
                    for problem in problems:
                        form.add_error(target, problem)
            else:
                messages.success(
                    request,
                    _("Communication %(id)s queued.") % {"id": communication.public_id},
                )
                return redirect(
                    "admin:channels_app_communication_change", communication.pk
                )
        return render(
            request,
            "admin/channels_app/customer/send.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Send a communication to %(name)s") % {"name": customer},
                "form": form,
                "customer": customer,
                "opts": self.model._meta,
            },
        )

    list_display = [
        "external_id",
        "shown_name",
        "language",
        "email",
        "phone",
        "updated",
    ]
    search_fields = ["=external_id", "name", "=email", "=phone"]
    list_filter = ["language"]

    @admin.display(description=_("name"), ordering="name")
    def shown_name(self, customer: Customer) -> str:
        """The name, any direction control in it shown ([U+202E]), not applied."""
        return bidi_visible(customer.name)

    def save_model(self, request, obj, form, change) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in customer_services.CUSTOMER_FIELDS
            if name in form.cleaned_data
        }
        try:
            customer, _ = customer_services.customer_upsert(
                external_id=form.cleaned_data["external_id"],
                actor=request.user,
                **fields,
            )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        obj.pk = customer.pk

    def get_readonly_fields(self, request, obj=None):
        return ["external_id"] if obj else []


@admin.register(PreferenceEntry)
class PreferenceEntryAdmin(SimpleHistoryAdmin):
    """The ledger is append-only: entries are added through preference_set."""

    list_display = [
        "customer",
        "channel",
        "category",
        "scope",
        "opted_in",
        "source",
        "legal_basis",
        "recorded_at",
        "recorded_by",
    ]
    list_filter = ["channel", "opted_in", "source", "legal_basis"]
    search_fields = ["=customer__external_id", "customer__name"]
    list_select_related = ["customer", "recorded_by"]
    autocomplete_fields = ["customer"]
    fields = [
        "customer",
        "channel",
        "category",
        "scope",
        "opted_in",
        "source",
        "legal_basis",
        "note",
        "source_message",
        "source_system",
        "user_agent",
    ]
    readonly_fields = ["source_message", "source_system", "user_agent"]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        entry = customer_services.preference_set(
            customer=obj.customer,
            channel=obj.channel,
            category=obj.category,
            scope=obj.scope,
            opted_in=obj.opted_in,
            source=obj.source,
            legal_basis=obj.legal_basis,
            note=obj.note,
            actor=request.user,
        )
        obj.pk = entry.pk


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["channel", "address", "reason", "created"]
    list_filter = ["channel", "reason"]
    search_fields = ["=address"]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        suppression = customer_services.suppression_add(
            channel=obj.channel,
            address=obj.address,
            reason=obj.reason,
            detail=obj.detail,
        )
        obj.pk = suppression.pk


class DispatchInline(admin.TabularInline):
    model = Dispatch
    fields = [
        "channel",
        "language",
        "address",
        "status",
        "status_changed",
        "decision_shown",
    ]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

    @admin.display(description=_("decision"))
    def decision_shown(self, dispatch: Dispatch) -> str:
        return reason_display(dispatch.decision) or "-"

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Communication)
class CommunicationAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = [
        "public_id",
        "template_code",
        "customer",
        "requester_label",
        "source_system",
        "created",
    ]
    list_filter = ["template_code", "source_system", "mandatory"]
    search_fields = [
        "=public_id",
        "=customer__external_id",
        "=idempotency_key",
        "=correlation_key",
        "=batch__public_id",
    ]
    list_select_related = ["customer"]
    date_hierarchy = "created"
    inlines = [DispatchInline]


class AttemptInline(admin.TabularInline):
    model = DispatchAttempt
    fields = ["number", "started", "duration_ms", "outcome", "error", "worker"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class StatusChangeInline(AttemptInline):
    model = DispatchStatusChange
    fields = ["status", "at", "detail"]
    readonly_fields = fields


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000
    )


def _with_reason(request, queryset, *, title: str, action: str, apply) -> None:
    """Ask for a reason on an intermediate page, then apply to each dispatch."""
    form = ReasonForm(request.POST if "reason" in request.POST else None)
    if not form.is_valid():
        return render(
            request,
            "admin/channels_app/dispatch/reason.html",
            {
                "title": title,
                "form": form,
                "queryset": queryset,
                "action": action,
                "opts": Dispatch._meta,
            },
        )
    done, refused = 0, []
    for dispatch in queryset:
        try:
            apply(
                dispatch=dispatch,
                actor=request.user,
                reason=form.cleaned_data["reason"],
            )
            done += 1
        except lifecycle.DispatchStateError as exc:
            refused.append(str(exc))
    if done:
        messages.success(
            request,
            ngettext(
                "%(count)d dispatch updated.", "%(count)d dispatches updated.", done
            )
            % {"count": done},
        )
    for problem in refused:
        messages.error(request, problem)
    return None


class RuleDecisionFilter(admin.SimpleListFilter):
    title = _("rule decisions")
    parameter_name = "ruled"

    def lookups(self, request, model_admin):
        return [("yes", _("Held or changed by a rule")), ("no", _("No rule decision"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(rule_decisions=[])
        if self.value() == "no":
            return queryset.filter(rule_decisions=[])
        return queryset


@admin.register(Dispatch)
class DispatchAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "channel",
        "status",
        "severity",
        "address",
        "template",
        "attempt_count",
        "due_at",
        "status_changed",
    ]
    list_filter = [
        "status",
        "channel",
        "severity",
        "communication__template_code",
        "communication__category",
        RuleDecisionFilter,
        ("created", admin.DateFieldListFilter),
    ]
    search_fields = ["=id", "=address", "=communication__customer__external_id"]
    list_select_related = ["communication"]
    inlines = [StatusChangeInline, AttemptInline]
    actions = ["retry", "cancel"]

    def get_urls(self):
        from channels_app.complaints import complaint_rates_view

        return [
            path(
                "complaint-rates/",
                self.admin_site.admin_view(
                    lambda request: complaint_rates_view(request, self.admin_site)
                ),
                name="channels_app_dispatch_complaint_rates",
            ),
            *super().get_urls(),
        ]

    @admin.display(description=_("template"), ordering="communication__template_code")
    def template(self, dispatch: Dispatch) -> str:
        return dispatch.communication.template_code

    def get_readonly_fields(self, request, obj=None):
        shown = {"rule_decisions": "rule_decisions_table", "decision": "decision_shown"}
        return [
            shown.get(name, name) for name in super().get_readonly_fields(request, obj)
        ] + ["hold"]

    @admin.display(description=_("decision"))
    def decision_shown(self, dispatch: Dispatch) -> str:
        return reason_display(dispatch.decision) or "-"

    @admin.display(description=_("held by a pause"))
    def hold(self, dispatch: Dispatch) -> str:
        return pauses.hold_reason(dispatch) or "-"

    @admin.display(description=_("rule decisions"))
    def rule_decisions_table(self, dispatch: Dispatch) -> str:
        decisions = dispatch.rule_decisions or []
        if not decisions:
            return gettext("No rule changed or held this dispatch.")
        head = format_html_join(
            "",
            "<th>{}</th>",
            (
                (label,)
                for label in (
                    gettext("rule"),
                    gettext("version"),
                    gettext("outcome"),
                    gettext("reason"),
                    gettext("stage"),
                    gettext("at"),
                )
            ),
        )
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    decision.get("rule", ""),
                    decision.get("version", ""),
                    outcome_label(decision.get("outcome", "")),
                    reason_display(decision.get("reason", "")),
                    stage_label(decision.get("stage", "")),
                    moment_display(decision.get("at", "")),
                )
                for decision in decisions
                if isinstance(decision, dict)
            ),
        )
        return format_html(
            '<table class="rule-decisions"><thead><tr>{}</tr></thead>'
            "<tbody>{}</tbody></table>",
            head,
            rows,
        )

    def has_change_permission(self, request, obj=None) -> bool:
        # Change permission drives the retry/cancel actions; the form stays read-only.
        return request.user.has_perm("channels_app.change_dispatch")

    @admin.action(description=_("Retry the selected failed dispatches"))
    def retry(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Retry dispatches"),
            action="retry",
            apply=services.dispatch_retry,
        )

    @admin.action(description=_("Cancel the selected queued dispatches"))
    def cancel(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Cancel dispatches"),
            action="cancel",
            apply=services.dispatch_cancel,
        )


@admin.register(Escalation)
class EscalationAdmin(AuditedAdminMixin, ReadOnlyAdmin):
    list_display = ["id", "severity", "status", "dispatch", "reason", "opened"]
    list_filter = ["status", "severity"]
    list_select_related = ["dispatch"]
    actions = ["resolve"]

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("channels_app.change_escalation")

    @admin.action(description=_("Resolve the selected escalations"))
    def resolve(self, request, queryset):
        return _with_reason(
            request,
            queryset,
            title=_("Resolve escalations"),
            action="resolve",
            apply=lambda *, dispatch, actor, reason: lifecycle.escalation_resolve(
                escalation=dispatch, actor=actor, reason=reason
            ),
        )


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


# Registered beside, to keep this module's size in bounds.
from channels_app import inbound_admin  # noqa: E402, F401
