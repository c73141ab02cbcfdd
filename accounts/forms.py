from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _


class CodeForm(forms.Form):
    """The six digits an authenticator app shows."""

    otp_token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=6,
        min_length=6,
        strip=True,
        validators=[
            RegexValidator(r"^[0-9]{6}$", _("Enter the six digits the app shows."))
        ],
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "pattern": "[0-9]{6}",
                "autofocus": True,
                "dir": "ltr",
            }
        ),
    )

    def clean_otp_token(self):
        return self.cleaned_data["otp_token"].replace(" ", "")
