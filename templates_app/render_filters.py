"""The filters authors may use: a vetted few of Jinja's, and three that follow
the render language (money, number, date, formatted by Babel)."""

import datetime
import decimal

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.utils.translation import gettext as _
from jinja2 import filters as jinja_filters
from jinja2 import pass_context
from markupsafe import Markup, escape

from templates_app.render_limits import UnsafeOperationError, _budget, _check_size


def _bounded_join(value, separator="", attribute=None):
    if attribute is not None:
        raise UnsafeOperationError(_("join() does not take an attribute here."))
    items = [str(item) for item in value]
    _check_size(sum(map(len, items)) + len(str(separator)) * max(len(items) - 1, 0))
    if isinstance(separator, Markup) or any(isinstance(i, Markup) for i in value):
        return escape(separator).join(escape(i) for i in value)
    return str(separator).join(items)


_LOCALES = {"ar": Locale.parse("ar"), "en": Locale.parse("en")}


def _locale(context) -> Locale:
    # Parsed once: Babel re-parses locale names on every call otherwise.
    return _LOCALES["ar"] if _budget().language == "ar" else _LOCALES["en"]


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
    return babel_numbers.format_currency(
        _decimal(amount), currency.upper(), locale=_locale(context)
    )


@pass_context
def _number(context, value, decimals=None):
    """Format a number with grouping, for the render language."""
    number = _decimal(value)
    if decimals is None:
        return babel_numbers.format_decimal(number, locale=_locale(context))
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise UnsafeOperationError(_("Decimals must be between 0 and 6."))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(
        number, format=pattern, locale=_locale(context), decimal_quantization=True
    )


@pass_context
def _date(context, value, format="long"):  # noqa: A002 (the filter's public name)
    """Format an ISO date or date-time, for the render language."""
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
    if not isinstance(format, str) or len(format) > 64:
        raise UnsafeOperationError(_("The date format is not valid."))
    if isinstance(value, datetime.datetime):
        return babel_dates.format_datetime(value, format, locale=_locale(context))
    return babel_dates.format_date(value, format, locale=_locale(context))


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
}
