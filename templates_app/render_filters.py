"""The filters authors may use: a vetted few of Jinja's, and those that follow
the render language and formats (money, number, date by Babel; hijri and
digits by `templates_app.formats`)."""

import datetime
import decimal

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.utils.translation import gettext as _
from jinja2 import filters as jinja_filters
from jinja2 import pass_context
from markupsafe import Markup, escape

from templates_app.formats import (
    Calendar,
    Digits,
    both_calendars_join,
    digits_apply,
    hijri_date_format,
)
from templates_app.render_limits import (
    UnsafeOperationError,
    _budget,
    _check_size,
    value_bytes,
)


def _bounded_join(value, separator="", attribute=None):
    if attribute is not None:
        raise UnsafeOperationError(_("join() does not take an attribute here."))
    limit = _budget().allowance.limits.max_value_bytes + 1
    parts = list(value)
    _check_size(
        sum(value_bytes(item, limit) for item in parts)
        + value_bytes(str(separator), limit) * max(len(parts) - 1, 0)
    )
    items = [str(item) for item in parts]
    if isinstance(separator, Markup) or any(isinstance(i, Markup) for i in value):
        return escape(separator).join(escape(i) for i in value)
    return str(separator).join(items)


_LOCALES = {"ar": Locale.parse("ar"), "en": Locale.parse("en")}


def _locale(context) -> Locale:
    # Parsed once: Babel re-parses locale names on every call otherwise.
    return _LOCALES["ar"] if _budget().language == "ar" else _LOCALES["en"]


def _numbering() -> str:
    """Return Babel's numbering system for the render: Arabic separators too."""
    return "arab" if _budget().formats.digits == Digits.ARABIC else "latn"


def _digits_out(text: str) -> str:
    return digits_apply(text, _budget().formats.digits)


def _decimal(value) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnsafeOperationError(
            _("Expected a number, got %(value)r.") % {"value": value}
        )
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise UnsafeOperationError(
            _("Expected a number, got %(value)r.") % {"value": value}
        ) from None


@pass_context
def _money(context, amount, currency="SAR"):
    """Format an amount in a currency, for the render language."""
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise UnsafeOperationError(_("Currency must be a three-letter code."))
    return _digits_out(
        babel_numbers.format_currency(
            _decimal(amount),
            currency.upper(),
            locale=_locale(context),
            numbering_system=_numbering(),
        )
    )


@pass_context
def _number(context, value, decimals=None):
    """Format a number with grouping, for the render language."""
    number = _decimal(value)
    numbering = _numbering()
    if decimals is None:
        return _digits_out(
            babel_numbers.format_decimal(
                number, locale=_locale(context), numbering_system=numbering
            )
        )
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise UnsafeOperationError(_("Decimals must be between 0 and 6."))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return _digits_out(
        babel_numbers.format_decimal(
            number,
            format=pattern,
            locale=_locale(context),
            decimal_quantization=True,
            numbering_system=numbering,
        )
    )


HIJRI_STYLES = ("short", "medium", "long", "full")


def _date_value(value) -> datetime.date:
    if isinstance(value, str):
        try:
            value = (
                datetime.date.fromisoformat(value)
                if len(value) == 10
                else datetime.datetime.fromisoformat(value)
            )
        except ValueError:
            raise UnsafeOperationError(
                _("Expected an ISO date, got %(value)r.") % {"value": value}
            ) from None
    if not isinstance(value, datetime.date):
        raise UnsafeOperationError(
            _("Expected an ISO date, got %(value)r.") % {"value": value}
        )
    return value


def _gregorian(context, value: datetime.date, format: str) -> str:  # noqa: A002
    if isinstance(value, datetime.datetime):
        return babel_dates.format_datetime(value, format, locale=_locale(context))
    return babel_dates.format_date(value, format, locale=_locale(context))


def _hijri_style(format: str) -> str:  # noqa: A002
    """Return the Hijri style nearest a Babel pattern: never refuse a render."""
    if format in HIJRI_STYLES:
        return format
    return "long" if "MMM" in format else "short"


def _hijri(value: datetime.date, format: str) -> str | None:  # noqa: A002
    """Return the Hijri date, or None outside the calendar's range."""
    try:
        return hijri_date_format(
            value, style=_hijri_style(format), language=_budget().language
        )
    except OverflowError:
        return None


@pass_context
def _date(context, value, format="long", calendar=None):  # noqa: A002 (public name)
    """Format an ISO date or date-time, for the render language and calendar.

    A calendar from the settings falls back to Gregorian for a date the Hijri
    tables do not cover; one the author asked for by name is refused instead.
    """
    value = _date_value(value)
    if not isinstance(format, str) or len(format) > 64:
        raise UnsafeOperationError(_("The date format is not valid."))
    chosen = calendar
    calendar = _budget().formats.calendar if chosen is None else chosen
    if calendar not in Calendar.values:
        raise UnsafeOperationError(
            _("The calendar must be one of %(calendars)s, not %(calendar)r.")
            % {"calendars": ", ".join(Calendar.values), "calendar": calendar}
        )
    hijri = None if calendar == Calendar.GREGORIAN else _hijri(value, format)
    if hijri is None and calendar != Calendar.GREGORIAN and chosen is not None:
        raise UnsafeOperationError(
            _("Hijri dates are available from 1924 to 2077, not %(date)s.")
            % {"date": value.isoformat()}
        )
    gregorian = _gregorian(context, value, format)
    if hijri is None:
        text = gregorian
    elif calendar == Calendar.HIJRI:
        text = hijri
    else:
        # The weekday is said once, with the Hijri date.
        if format == "full":
            gregorian = _gregorian(context, value, "long")
        text = both_calendars_join(
            hijri=hijri, gregorian=gregorian, language=_budget().language
        )
    return _digits_out(text)


@pass_context
def _hijri_filter(context, value, format="long"):  # noqa: A002 (public name)
    """Format an ISO date in the Hijri (Umm al-Qura) calendar."""
    return _date(context, value, format, calendar=Calendar.HIJRI)


def _digits(value, style=None):
    """Write the digits of a number or text in the render's (or given) style."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnsafeOperationError(
            _("digits() takes a number or text, not %(value)r.") % {"value": value}
        )
    style = _budget().formats.digits if style is None else style
    if style not in Digits.values:
        raise UnsafeOperationError(
            _("The digits must be one of %(styles)s, not %(style)r.")
            % {"styles": ", ".join(Digits.values), "style": style}
        )
    return digits_apply(str(value), style)


VETTED_FILTERS = {
    "escape": escape,
    "e": escape,
    "upper": jinja_filters.do_upper,
    "lower": jinja_filters.do_lower,
    "title": jinja_filters.do_title,
    "capitalize": jinja_filters.do_capitalize,
    "trim": jinja_filters.do_trim,
    "truncate": jinja_filters.do_truncate,
    "default": jinja_filters.do_default,
    "d": jinja_filters.do_default,
    "length": len,
    "count": len,
    "first": jinja_filters.do_first,
    "last": jinja_filters.do_last,
    "join": _bounded_join,
    "round": jinja_filters.do_round,
    "int": jinja_filters.do_int,
    "abs": abs,
    "money": _money,
    "number": _number,
    "date": _date,
    "hijri": _hijri_filter,
    "digits": _digits,
}
