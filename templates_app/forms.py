"""Admin forms: validation shown next to the field it concerns."""

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput
from django.forms.models import BaseInlineFormSet
from django.utils.translation import gettext_lazy as _

from ccm.jsonvalues import json_problem
from templates_app import services
from templates_app.models import CHANNEL_FIELDS, Channel, Template
from templates_app.validation import ContentDraft, data_problems, schema_problems

# Sources and JSON read left to right in the Arabic admin too.
CODE_EDITOR = {
    "rows": 10,
    "cols": 90,
    "spellcheck": "false",
    "class": "tpl-code",
    "dir": "ltr",
}


class StoredJSONField(forms.JSONField):
    """JSON the database can hold (`ccm.jsonvalues`); refused text shows as typed."""

    def to_python(self, value):
        converted = super().to_python(value)
        if problem := json_problem(converted):
            raise ValidationError(problem, code="invalid")
        return converted

    def bound_data(self, data, initial):
        value = super().bound_data(data, initial)
        if not isinstance(value, InvalidJSONInput) and json_problem(value):
            return InvalidJSONInput(data)
        return value


class TemplateForm(forms.ModelForm):
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
    )

    class Meta:
        model = Template
        fields = [
            "code",
            "name",
            "name_ar",
            "category",
            "description",
            "channels",
            "default_language",
            "digits",
            "calendar",
            "data_schema",
            "sample_data",
        ]
        widgets = {
            "name_ar": forms.TextInput(attrs={"dir": "rtl", "lang": "ar"}),
            "data_schema": forms.Textarea(attrs=CODE_EDITOR),
            "sample_data": forms.Textarea(attrs=CODE_EDITOR),
        }
        field_classes = {"data_schema": StoredJSONField, "sample_data": StoredJSONField}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Left out of a post (an older form or script), they keep their value.
        for name in ("digits", "calendar"):
            if name in self.fields:
                self.fields[name].required = False

    # Left empty, the schema and the sample data are `{}` (the model's blank).
    def clean_data_schema(self):
        return (
            {}
            if self.cleaned_data["data_schema"] is None
            else (self.cleaned_data["data_schema"])
        )

    def clean_sample_data(self):
        return (
            {}
            if self.cleaned_data["sample_data"] is None
            else (self.cleaned_data["sample_data"])
        )

    def clean(self):
        cleaned = super().clean()
        schema = cleaned.get("data_schema")
        if "data_schema" in cleaned:
            for problem in schema_problems(schema):
                self.add_error("data_schema", problem)
        if (
            "sample_data" in cleaned
            and "data_schema" in cleaned
            and not self.has_error("data_schema")
        ):
            for problem in data_problems(schema, cleaned["sample_data"]):
                self.add_error(
                    "sample_data",
                    _("Sample data does not match the schema at %s") % problem,
                )
        return cleaned


class VersionContentForm(forms.ModelForm):
    class Meta:
        fields = [
            "channel",
            "language",
            "subject",
            "html",
            "text",
            "sms_text",
            "letter_html",
            "letter_css",
        ]
        widgets = {
            name: forms.Textarea(attrs=CODE_EDITOR)
            for name in ("html", "text", "sms_text", "letter_html", "letter_css")
        }

    def draft(self) -> ContentDraft:
        data = self.cleaned_data
        return ContentDraft(
            channel=data["channel"],
            language=data["language"],
            fields={
                name: data.get(name) or "" for name in CHANNEL_FIELDS[data["channel"]]
            },
        )


class VersionContentFormSet(BaseInlineFormSet):
    """Validate the version's content as a whole and place each problem."""

    validation_warnings: list = []

    def live_forms(self):
        return [
            form
            for form in self.forms
            if form.is_valid()
            and form.cleaned_data.get("channel")
            and form.cleaned_data.get("language")
            and not (self.can_delete and self._should_delete_form(form))
        ]

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        forms_by_key = {
            (form.cleaned_data["channel"], form.cleaned_data["language"]): form
            for form in self.live_forms()
        }
        report = services.version_validate(
            version=self.instance, contents=[f.draft() for f in forms_by_key.values()]
        )
        self.validation_warnings = report.warnings
        unplaced = []
        for problem in report.errors:
            form = forms_by_key.get((problem.channel, problem.language))
            message = problem.message
            if problem.line:
                message = _("Line %(line)s: %(message)s") % {
                    "line": problem.line,
                    "message": message,
                }
            if form is not None and problem.field in form.fields:
                form.add_error(problem.field, message)
            elif form is not None:
                form.add_error(None, message)
            else:
                unplaced.append(str(problem))
        if unplaced:
            raise ValidationError(unplaced)


class BlockContentFormSet(BaseInlineFormSet):
    """Refuse block content that does not parse or includes another block."""

    def clean(self):
        super().clean()
        if any(form.errors for form in self.forms):
            return
        contents = [
            (
                form.cleaned_data["language"],
                form.cleaned_data.get("html") or "",
                form.cleaned_data.get("text") or "",
            )
            for form in self.forms
            if form.cleaned_data.get("language")
            and not (self.can_delete and self._should_delete_form(form))
        ]
        problems = services.block_content_problems(contents)
        if problems:
            raise ValidationError(problems)
