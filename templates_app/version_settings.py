"""The template settings a version carries: copied while a draft, then frozen.

A template's category (and so its kind), channels, default language, data
schema, digits and calendar decide what is sent and to whom, so they are
approved with the content: each version holds its own copy
(`models.SETTINGS_FIELDS`), taken from the template while the version is a
draft and frozen from submission on. The send path reads them from the version
in force; the template row holds the settings the next draft will carry.
"""

import json
from dataclasses import dataclass
from functools import cached_property

from django.utils.translation import get_language_bidi, ngettext
from django.utils.translation import gettext as _

from templates_app.diffs import Difference, source_diff
from templates_app.formats import Calendar, Digits, Formats, formats_resolve
from templates_app.models import (
    HASH_SCHEME_CURRENT,
    HASH_SCHEME_FORMATS,
    HASH_SCHEME_SETTINGS,
    Channel,
    Language,
    Template,
    TemplateVersion,
)

# Carries the settings: a Template (the next draft's) or a TemplateVersion.
SettingsSource = Template | TemplateVersion


def channels_normalised(channels) -> list[str]:
    """Return the known channels among `channels`, in the fallback order."""
    return [channel for channel in Channel.values if channel in (channels or [])]


def settings_copy(version: TemplateVersion, template: Template) -> list[str]:
    """Give a draft its template's settings; return the fields that changed."""
    values = {
        "category": template.category,
        "channels": channels_normalised(template.channels),
        "default_language": template.default_language,
        "data_schema": template.data_schema,
        "digits": template.digits,
        "calendar": template.calendar,
        "hash_scheme": HASH_SCHEME_CURRENT,
    }
    changed = []
    for name, value in values.items():
        current = (
            version.category_id if name == "category" else getattr(version, name, None)
        )
        wanted = value.pk if name == "category" else value
        if current != wanted:
            changed.append(name)
        setattr(version, name, value)
    return changed


def settings_hashed(version: TemplateVersion) -> dict | None:
    """Return the settings the version's content hash covers (None: scheme 1)."""
    if version.hash_scheme < HASH_SCHEME_SETTINGS:
        return None
    hashed = {
        "category": version.category.code,
        "channels": list(version.channels),
        "default_language": version.default_language,
        "data_schema": version.data_schema,
    }
    if version.hash_scheme >= HASH_SCHEME_FORMATS:
        hashed.update(digits=version.digits, calendar=version.calendar)
    return hashed


def version_formats(
    version: TemplateVersion,
    *,
    language: str,
    customer_digits: str = "",
    customer_calendar: str = "",
) -> Formats:
    """Return the digits and calendar a render of the version uses.

    The customer's preference wins over the version's approved default.
    Versions hashed before digits and calendar were covered (scheme < 3) keep
    the Latin digits and Gregorian calendar they were approved with.
    """
    covered = version.hash_scheme >= HASH_SCHEME_FORMATS
    return formats_resolve(
        language=language,
        template_digits=version.digits if covered else "",
        template_calendar=version.calendar if covered else "",
        customer_digits=customer_digits,
        customer_calendar=customer_calendar,
    )


def version_preview_formats(version: TemplateVersion, *, language: str) -> Formats:
    """Return the formats an author or reviewer previews a version with.

    A draft takes its template's settings when saved, so it previews with
    them; a submitted version with its own frozen settings.
    """
    if version.is_editable:
        return formats_resolve(
            language=language,
            template_digits=version.template.digits,
            template_calendar=version.template.calendar,
        )
    return version_formats(version, language=language)


def settings_differ(old: SettingsSource, new: SettingsSource) -> list[str]:
    """Return the names of the settings that differ between two sources."""
    return [row.field for row in settings_rows(old, new) if row.changed]


@dataclass
class SettingRow:
    """One setting side by side, as a reviewer sees it."""

    field: str
    label: str
    before: str
    after: str
    changed: bool
    before_label: str = ""
    after_label: str = ""

    @cached_property
    def difference(self) -> Difference | None:
        """The bounded diff of the data schema, computed once and only if shown."""
        if self.field != "data_schema" or not self.changed:
            return None
        return source_diff(
            self.before,
            self.after,
            fromdesc=self.before_label,
            todesc=self.after_label,
        )

    @property
    def diff(self) -> str:
        return self.difference.html if self.difference else ""


def _joined(items) -> str:
    return ("، " if get_language_bidi() else ", ").join(str(item) for item in items)


def _category_label(source: SettingsSource) -> str:
    category = source.category
    name = category.display_name
    return ngettext(
        "%(name)s · %(kind)s · %(count)s approval required",
        "%(name)s · %(kind)s · %(count)s approvals required",
        category.required_approvals,
    ) % {
        "name": name,
        "kind": category.get_kind_display(),
        "count": category.required_approvals,
    }


def _channels_label(source: SettingsSource) -> str:
    channels = channels_normalised(source.channels)
    return _joined(Channel(c).label for c in channels) or "-"


def _language_label(code: str) -> str:
    try:
        return str(Language(code).label)
    except ValueError:
        return code or "-"


def _default_language_label(source: SettingsSource) -> str:
    return _language_label(source.default_language)


def _digits_label(source: SettingsSource) -> str:
    return str(Digits(source.digits).label) if source.digits else "-"


def _calendar_label(source: SettingsSource) -> str:
    return str(Calendar(source.calendar).label) if source.calendar else "-"


def _content_languages(source: SettingsSource) -> str:
    if not isinstance(source, TemplateVersion):
        return ""
    languages: dict[str, set[str]] = {}
    for content in source.contents.all():
        languages.setdefault(content.channel, set()).add(content.language)
    return "; ".join(
        f"{Channel(channel).label}: "
        + _joined(_language_label(code) for code in sorted(languages[channel]))
        for channel in channels_normalised(languages)
    )


def _schema_text(source: SettingsSource | None) -> str:
    if source is None:
        return ""
    return json.dumps(source.data_schema, indent=2, sort_keys=True, ensure_ascii=False)


def settings_rows(old: SettingsSource | None, new: SettingsSource) -> list[SettingRow]:
    """Return each setting of `new` beside `old`'s (none: nothing to compare)."""
    readers = [
        ("category", _("Category (kind, approvals)"), _category_label),
        ("channels", _("Channels"), _channels_label),
        ("default_language", _("Default language"), _default_language_label),
        ("digits", _("Digits (Arabic content)"), _digits_label),
        ("calendar", _("Calendar"), _calendar_label),
    ]
    if isinstance(new, TemplateVersion):
        readers.append(("languages", _("Languages with content"), _content_languages))
    rows = []
    for name, label, read in readers:
        after = read(new)
        before = read(old) if old is not None else ""
        rows.append(
            SettingRow(name, label, before, after, old is not None and before != after)
        )
    before_schema, after_schema = _schema_text(old), _schema_text(new)
    rows.append(
        SettingRow(
            "data_schema",
            _("Data schema"),
            before_schema,
            after_schema,
            old is not None and before_schema != after_schema,
            before_label=_version_label(old) if old is not None else "",
            after_label=_version_label(new),
        )
    )
    return rows


def _version_label(source: SettingsSource) -> str:
    if isinstance(source, TemplateVersion):
        return f"v{source.number}"
    return _("template")
