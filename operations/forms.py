"""The dashboard's filters and the pause switch's form; rules live on the models."""

from django import forms
from django.utils.translation import gettext_lazy as _

from channels_app.models import Channel, Pause
from operations.selectors import PERIODS
from templates_app.models import Category

PERIOD_LABELS = {
    "24h": _("Last 24 hours"),
    "7d": _("Last 7 days"),
    "30d": _("Last 30 days"),
}


class FilterForm(forms.Form):
    period = forms.ChoiceField(
        label=_("Period"),
        choices=[(key, PERIOD_LABELS[key]) for key in PERIODS],
        required=False,
        initial="7d",
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False)
    category = forms.ChoiceField(label=_("Category"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not self.is_bound:
            self.initial.setdefault("period", "7d")
        self.fields["channel"].choices = [("", _("All channels")), *Channel.choices]
        self.fields["category"].choices = [
            ("", _("All categories")),
            *Category.objects.order_by("code").values_list("code", "name"),
        ]


class PauseForm(forms.ModelForm):
    class Meta:
        model = Pause
        fields = ["scope", "value", "reason"]
        widgets = {"reason": forms.TextInput()}
        labels = {"value": _("Template or category code, channel, or batch id")}


class ResumeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), required=False, max_length=2000)
