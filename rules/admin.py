"""Operators manage the rule set here, and ask what the rules would do now."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from audit.admin import AuditedAdminMixin
from channels_app.models import Channel
from customers.models import Customer
from rules import services
from rules.dry_run import rules_explain
from rules.models import Rule, codes_split
from templates_app.models import Template


class RuleForm(forms.ModelForm):
    reason = forms.CharField(
        label=_("Reason for the change"),
        required=False,
        max_length=500,
        help_text=_("Kept in the rule's history and the audit trail."),
    )

    class Meta:
        model = Rule
        # What an operator edits: everything audited but the version counter.
        fields = [name for name in services.RULE_FIELDS if name != "version"]
        widgets = {
            "quiet_start": forms.TimeInput(format="%H:%M"),
            "quiet_end": forms.TimeInput(format="%H:%M"),
        }


@admin.register(Rule)
class RuleAdmin(AuditedAdminMixin, SimpleHistoryAdmin):
    form = RuleForm
    change_list_template = "admin/rules/rule/change_list.html"
    list_display = [
        "name",
        "kind",
        "enabled",
        "channel",
        "category_kind",
        "summary",
        "version",
    ]
    list_filter = ["kind", "enabled", "channel"]
    search_fields = ["name", "description", "categories"]
    readonly_fields = ["version", "created", "updated"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "enabled", "description"]}),
        (
            _("Which dispatches"),
            {"fields": ["channel", "category_kind", "categories"]},
        ),
        (
            _("Quiet hours"),
            {
                "fields": [
                    "quiet_start",
                    "quiet_end",
                    "exempt_mandatory",
                    "exempt_categories",
                ]
            },
        ),
        (
            _("Frequency cap and de-duplication"),
            {"fields": ["cap_count", "window_hours", "cap_mode"]},
        ),
        (None, {"fields": ["reason", "version", "created", "updated"]}),
    ]

    @admin.display(description=_("rule"))
    def summary(self, rule: Rule) -> str:
        if rule.kind == Rule.Kind.QUIET_HOURS and rule.quiet_start:
            return _("no sending %(start)s–%(end)s local") % {
                "start": f"{rule.quiet_start:%H:%M}",
                "end": f"{rule.quiet_end:%H:%M}",
            }
        if rule.kind == Rule.Kind.FREQUENCY_CAP:
            return _("at most %(count)s per %(hours)s h, %(mode)s") % {
                "count": rule.cap_count,
                "hours": rule.window_hours,
                "mode": rule.get_cap_mode_display(),
            }
        return _("once per %(hours)s h") % {"hours": rule.window_hours}

    def save_model(self, request, obj, form, change) -> None:
        fields = {
            name: form.cleaned_data[name]
            for name in RuleForm.Meta.fields
            if name in form.cleaned_data
        }
        reason = form.cleaned_data.get("reason", "")
        try:
            if change:
                saved = services.rule_update(
                    rule=obj, actor=request.user, reason=reason, **fields
                )
            else:
                saved = services.rule_create(
                    actor=request.user, reason=reason, **fields
                )
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), messages.ERROR)
            return
        obj.pk, obj.version = saved.pk, saved.version

    def delete_model(self, request, obj) -> None:
        services.rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset:
            services.rule_delete(rule=rule, actor=request.user)

    def get_urls(self):
        return [
            path(
                "dry-run/",
                self.admin_site.admin_view(self.dry_run_view),
                name="rules_rule_dry_run",
            ),
            *super().get_urls(),
        ]

    def dry_run_view(self, request):
        """Show what the rules would do for a customer and a template, and why."""
        if not request.user.has_perm("rules.view_rule"):
            raise PermissionDenied
        form = DryRunForm(request.GET or None)
        explanation = None
        if request.GET and form.is_valid():
            data = form.cleaned_data
            explanation = rules_explain(
                customer=data["customer"],
                template=data["template"],
                at=data["at"] or timezone.now(),
                channels=[data["channel"]] if data["channel"] else None,
                correlation_key=data["correlation_key"],
                supersedes=codes_split(data["supersedes"]),
                waits_for=codes_split(data["waits_for"]),
            )
        return render(
            request,
            "admin/rules/rule/dry_run.html",
            {
                **self.admin_site.each_context(request),
                "title": _("What would the rules do?"),
                "form": form,
                "explanation": explanation,
                "opts": self.model._meta,
            },
        )


class DryRunForm(forms.Form):
    customer = forms.CharField(
        label=_("Customer (external id)"),
        max_length=100,
        help_text=_("As known by the system of record, e.g. CUST-10001."),
    )
    template = forms.ModelChoiceField(
        label=_("Template"),
        queryset=Template.objects.select_related("category").order_by("code"),
        to_field_name="code",
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("Every channel of the template")), *Channel.choices],
        required=False,
    )
    correlation_key = forms.CharField(
        label=_("Correlation key"),
        max_length=200,
        required=False,
        help_text=_("An account or case number, for de-duplication and sequencing."),
    )
    at = forms.DateTimeField(
        label=_("At (UTC)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Blank: now."),
    )
    supersedes = forms.CharField(
        label=_("Supersedes (template codes)"), max_length=500, required=False
    )
    waits_for = forms.CharField(
        label=_("Waits for (template codes)"), max_length=500, required=False
    )

    def clean_customer(self):
        external_id = self.cleaned_data["customer"].strip()
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise ValidationError(
                _("No customer with external id %(id)s."), params={"id": external_id}
            )
        return customer
