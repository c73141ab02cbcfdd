"""Admin columns that show a name in the reader's language."""

from django.contrib import admin
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _


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
        return format_html('<bdi lang="ar" dir="rtl">{}</bdi>', subject.name_ar or "-")
