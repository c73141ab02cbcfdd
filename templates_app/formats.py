"""How numbers and dates read in a message: digits and calendar.

A template version carries a default (frozen with its other settings); a
customer may state a preference, which wins, because the reader decides how
they read their own letters. An author's explicit filter argument
(`date(calendar="hijri")`, `digits("latin")`) wins over both: the author wrote
that exact form into approved content. Arabic-Indic digits apply to Arabic
content only; English content always uses Latin digits. The calendar applies
in both languages (Hijri month names exist in each).
"""

import datetime
from dataclasses import dataclass

from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from hijridate import Gregorian


class Digits(models.TextChoices):
    LATIN = "latin", _("Latin (0123456789)")
    ARABIC = "arabic", _("Arabic-Indic (٠١٢٣٤٥٦٧٨٩)")


class Calendar(models.TextChoices):
    GREGORIAN = "gregorian", _("Gregorian")
    HIJRI = "hijri", _("Hijri (Umm al-Qura)")
    BOTH = "both", _("Hijri and Gregorian")


_TO_ARABIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_TO_LATIN = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


@dataclass(frozen=True)
class Formats:
    """The digits and calendar one render uses."""

    digits: str = Digits.LATIN
    calendar: str = Calendar.GREGORIAN


DEFAULT_FORMATS = Formats()


def formats_resolve(
    *,
    language: str,
    template_digits: str = "",
    template_calendar: str = "",
    customer_digits: str = "",
    customer_calendar: str = "",
) -> Formats:
    """Return the formats of one render: the customer's choice, else the template's.

    Unknown or empty values fall through to the next source, then to Latin
    digits and the Gregorian calendar.
    """
    digits = next(
        (d for d in (customer_digits, template_digits) if d in Digits.values),
        Digits.LATIN,
    )
    calendar = next(
        (c for c in (customer_calendar, template_calendar) if c in Calendar.values),
        Calendar.GREGORIAN,
    )
    if language != "ar":
        digits = Digits.LATIN
    return Formats(digits=digits, calendar=calendar)


def digits_apply(text: str, digits: str) -> str:
    """Return the text with its digits written in the given digit style."""
    if digits == Digits.ARABIC:
        return text.translate(_TO_ARABIC)
    return text.translate(_TO_LATIN)


# The weekday's separator in each language.
_WEEKDAY_COMMA = {"ar": "، ", "en": ", "}


def hijri_date_format(value: datetime.date, *, style: str, language: str) -> str:
    """Return a date in the Umm al-Qura calendar, in words of `language`.

    Styles: short (1447/09/26), medium (26 Ramadan 1447), long (with the era,
    AH / هـ) and full (with the weekday). Raise OverflowError outside the
    calendar's range (1343-1500 AH, 1924-2077 CE).
    """
    if isinstance(value, datetime.datetime):
        value = value.date()
    hijri = Gregorian(value.year, value.month, value.day).to_hijri()
    words = "ar" if language == "ar" else "en"
    if style == "short":
        return f"{hijri.year}/{hijri.month:02d}/{hijri.day:02d}"
    text = f"{hijri.day} {hijri.month_name(words)} {hijri.year}"
    if style in ("long", "full"):
        text = f"{text} {hijri.notation(words)}"
    if style == "full":
        text = f"{hijri.day_name(words)}{_WEEKDAY_COMMA[words]}{text}"
    return text


def both_calendars_join(*, hijri: str, gregorian: str, language: str) -> str:
    """Return a Hijri date and its Gregorian equivalent as one phrase."""
    with translation.override(language):
        return translation.gettext("%(hijri)s, corresponding to %(gregorian)s") % {
            "hijri": hijri,
            "gregorian": gregorian,
        }
