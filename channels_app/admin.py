"""Admin screens for operators: customers, the ledger, dispatches, escalations.

Screens call services for every change; dispatches and communications are
read-only records, moved only by the retry/cancel actions.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from channels_app import services
from channels_app.dispatching import AUTO, TriggerRefused, communication_trigger
from channels_app.models import (
    Channel,
    Communication,
    Customer,
    Dispatch,
    DispatchAttempt,
    DispatchStatusChange,
    Escalation,
    PreferenceEntry,
    Suppression,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

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

    list_display = ["external_id", "name", "language", "email", "phone", "updated"]
    search_fields = ["=external_id", "name", "=email", "=phone"]
    list_filter = ["language"]

    def save_model(self, request, obj, form, change) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in services.CUSTOMER_FIELDS
            if name in form.cleaned_data
        }
        try:
            customer, _ = services.customer_upsert(
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
    ]

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        entry = services.preference_set(
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
        suppression = services.suppression_add(
            channel=obj.channel,
            address=obj.address,
            reason=obj.reason,
            detail=obj.detail,
        )
        obj.pk = suppression.pk


class DispatchInline(admin.TabularInline):
    model = Dispatch
    fields = ["channel", "language", "address", "status", "status_changed", "decision"]
    readonly_fields = fields
    extra = 0
    show_change_link = True
    can_delete = False

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
    search_fields = ["=public_id", "=customer__external_id", "=idempotency_key"]
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
        except services.DispatchStateError as exc:
            refused.append(str(exc))
    if done:
        messages.success(
            request, _("%(count)d dispatch(es) updated.") % {"count": done}
        )
    for problem in refused:
        messages.error(request, problem)
    return None


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
        ("created", admin.DateFieldListFilter),
    ]
    search_fields = ["=id", "=address", "=communication__customer__external_id"]
    list_select_related = ["communication"]
    inlines = [StatusChangeInline, AttemptInline]
    actions = ["retry", "cancel"]

    @admin.display(description=_("template"), ordering="communication__template_code")
    def template(self, dispatch: Dispatch) -> str:
        return dispatch.communication.template_code

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
            apply=lambda *, dispatch, actor, reason: services.escalation_resolve(
                escalation=dispatch, actor=actor, reason=reason
            ),
        )
