"""Forms of the contact-center console; every action form asks for a reason."""

import json
import secrets
from datetime import date

from django import forms
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from channels_app.models import Dispatch, Severity
from console.models import Feedback
from customers.models import PreferenceEntry
from templates_app.models import Category, Channel


def _attributes(attrs: dict) -> SafeString:
    """Attributes as Django's attrs.html writes them: True bare, False left out."""
    return mark_safe(  # noqa: S308 (each piece from format_html)
        "".join(
            format_html(" {}", name)
            if value is True
            else format_html(' {}="{}"', name, value)
            for name, value in attrs.items()
            if value is not False
        )
    )


class PlainInput(forms.TextInput):
    """A text input written with `format_html`, as Django's input template writes it.

    The template engine spent a fifth of the search page's render on this one
    field: the same HTML, attributes in the same order, escaped the same way.
    """

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        shown = widget["value"]
        return format_html(
            '<input type="{}" name="{}"{}{}>',
            widget["type"],
            widget["name"],
            "" if shown is None else format_html(' value="{}"', shown),
            _attributes(widget["attrs"]),
        )


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Customer"),
        max_length=200,
        required=False,
        widget=PlainInput(
            attrs={
                "placeholder": _("External id, name, email or phone"),
                "autofocus": True,
                "type": "search",
            }
        ),
    )


# The calendar's ends overflow a day's span in a time zone: keep a year off each.
DATE_BOUNDS = [
    MinValueValidator(date(1900, 1, 1)),
    MaxValueValidator(date(9998, 12, 31)),
]


def _date_field(label):
    return forms.DateField(
        label=label,
        required=False,
        validators=DATE_BOUNDS,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _blank(label):
    return [("", label)]


class TimelineFilterForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        required=False,
        choices=_blank(_("All channels")) + list(Channel.choices),
    )
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=_blank(_("All statuses")) + list(Dispatch.Status.choices),
    )
    template = forms.ChoiceField(label=_("Template"), required=False)
    since = _date_field(_("From"))
    until = _date_field(_("To"))

    def __init__(self, *args, template_codes=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].choices = _blank(_("All templates")) + [
            (code, code) for code in template_codes
        ]


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": _("Why, as the customer said")}),
    )


class ResendForm(ReasonForm):
    # One token per rendered form: the same form sent twice (a double click)
    # resends once, however fast the first copy went out.
    once = forms.CharField(
        widget=forms.HiddenInput, initial=lambda: secrets.token_urlsafe(16)
    )


class UnmaskForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=1000, required=False)


class ReissueForm(forms.Form):
    data = forms.CharField(
        label=_("Corrected data (JSON)"),
        widget=forms.Textarea(attrs={"rows": 14, "class": "mono", "dir": "ltr"}),
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def clean_data(self):
        try:
            data = json.loads(self.cleaned_data["data"])
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                _("This is not valid JSON: %(error)s"), params={"error": exc}
            ) from None
        if not isinstance(data, dict):
            raise forms.ValidationError(_("The data must be a JSON object."))
        return data


class PreferenceForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[(PreferenceEntry.ANY_CHANNEL, _("Any channel")), *Channel.choices],
    )
    category = forms.ChoiceField(label=_("Category"), required=False)
    scope = forms.CharField(
        label=_("Product or account"),
        max_length=100,
        required=False,
        help_text=_("Empty: customer-wide."),
    )
    opted_in = forms.TypedChoiceField(
        label=_("Customer wants"),
        choices=[("in", _("Opt in")), ("out", _("Opt out"))],
        coerce=lambda value: value == "in",
    )
    legal_basis = forms.ChoiceField(
        label=_("Legal basis"), choices=PreferenceEntry.LegalBasis.choices
    )
    reason = forms.CharField(label=_("Reason"), max_length=1000)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = _blank(_("All categories")) + [
            (category.code, category.name)
            for category in Category.objects.order_by("name")
        ]


class FeedbackForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=Feedback.Kind.choices)
    severity = forms.ChoiceField(
        label=_("Severity"), choices=Severity.choices, initial=Severity.MEDIUM
    )
    text = forms.CharField(
        label=_("What the customer said"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class EvidenceRangeForm(forms.Form):
    since = _date_field(_("From"))
    until = _date_field(_("To"))
