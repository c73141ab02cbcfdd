"""Admin columns that show a name in the reader's language."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import get_language_bidi
from django.utils.translation import gettext_lazy as _

from ccm.bidi import bidi_visible
from templates_app.models import Channel, Language


def labels_join(codes, choices) -> str:
    """Return stored codes (channels, languages) as labels in the reader's language."""
    labels = [
        str(choices(code).label) if code in choices.values else code
        for code in codes or []
    ]
    return ("، " if get_language_bidi() else ", ").join(labels)


def channels_shown(codes) -> str:
    """Return a list of channel codes as the channels' names."""
    return labels_join(codes, Channel)


def languages_shown(codes) -> str:
    """Return a list of language codes as the languages' names."""
    return labels_join(codes, Language)


class DisplayNameColumns:
    """List columns for models with English and Arabic names (`DisplayNamed`)."""

    @admin.display(description=_("name"), ordering="name")
    def display_name(self, subject) -> str:
        return format_html("<bdi>{}</bdi>", subject.display_name)

    @admin.display(description=_("category"), ordering="category__name")
    def category_display(self, subject) -> str:
        category = subject.category
        return format_html("<bdi>{}</bdi>", category.display_name) if category else "-"

    @admin.display(description=_("name in Arabic"), ordering="name_ar")
    def arabic_name(self, subject) -> str:
        return format_html(
            '<bdi lang="ar" dir="rtl">{}</bdi>', bidi_visible(subject.name_ar or "-")
        )
