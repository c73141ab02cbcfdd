"""The admin's forms for proposing rule changes, deciding them and the dry run."""

from datetime import UTC

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from customers.models import Customer
from rules.models import VALUE_FIELDS, Rule, RuleVersion
from templates_app.models import Channel, Template

# How the proposal form groups the values, as the rule's page shows them.
FIELDSETS = [
    (None, {"fields": ["kind", "enabled", "description"]}),
    (_("Which dispatches"), {"fields": ["channel", "category_kind", "categories"]}),
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
    (None, {"fields": ["reason"]}),
]


class RuleProposalForm(forms.ModelForm):
    """A rule's values as proposed; the model's clean() names what is wrong."""

    class Meta:
        model = RuleVersion
        fields = [*VALUE_FIELDS, "reason"]
        widgets = {
            "quiet_start": forms.TimeInput(format="%H:%M"),
            "quiet_end": forms.TimeInput(format="%H:%M"),
            "reason": forms.Textarea(attrs={"rows": 2, "cols": 60}),
        }
        help_texts = {
            "reason": _(
                "Kept with the version and in the audit trail; the approver reads it."
            )
        }

    def values(self) -> dict:
        return {name: self.cleaned_data[name] for name in VALUE_FIELDS}


class NewRuleForm(RuleProposalForm):
    """A new rule: its name, then its values."""

    name = forms.CharField(
        label=_("name"),
        max_length=Rule._meta.get_field("name").max_length,
        help_text=Rule._meta.get_field("name").help_text,
    )
    field_order = ["name"]

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if Rule.objects.filter(name=name).exists():
            raise ValidationError(
                _("A rule named %(name)s exists already."), params={"name": name}
            )
        return name


class DecisionForm(forms.Form):
    comment = forms.CharField(
        label=_("Comment (required to reject)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 80}),
    )


class RetireForm(forms.Form):
    reason = forms.CharField(
        label=_("Why retire it?"),
        required=False,
        max_length=2000,
        widget=forms.TextInput(attrs={"size": 60}),
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
    proposal = forms.ModelChoiceField(
        label=_("Proposed change"),
        queryset=RuleVersion.objects.filter(
            status=RuleVersion.Status.PROPOSED
        ).select_related("rule"),
        required=False,
        empty_label=_("None: the rules in force only"),
        help_text=_("Shows its effect beside the rules in force, before approval."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["proposal"].label_from_instance = lambda version: (
            f"{version.label} ({version.get_change_display()})"
        )

    def clean_at(self):
        """Read the moment typed as UTC, as the label says, in any reader zone."""
        typed = self.cleaned_data["at"]
        if typed is None:
            return None
        return timezone.make_naive(typed).replace(tzinfo=UTC)

    def clean_customer(self):
        external_id = self.cleaned_data["customer"].strip()
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            raise ValidationError(
                _("No customer with external id %(id)s."), params={"id": external_id}
            )
        return customer
