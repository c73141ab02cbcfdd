"""Admin screens for operators: customers, their preference ledger and the
suppression list.

Screens call services for every change. The ledger is append-only and
suppressions are added, never edited. Dispatches, communications and
escalations are in dispatch_admin, batch runs in batch_admin, inbound messages
in inbound_admin; they are imported here so Django's autodiscovery registers
them.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from ccm.bidi import bidi_visible
from channels_app import batch_admin, dispatch_admin, inbound_admin  # noqa: F401
from channels_app.dispatching import AUTO, TriggerRefused, communication_trigger
from channels_app.models import Channel
from customers import services as customer_services
from customers.models import Customer, PreferenceEntry, Suppression


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
