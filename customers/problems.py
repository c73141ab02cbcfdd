"""The refusals of customer data: phone numbers (codes in docs/api-errors.md)."""

import phonenumbers
from django.utils.translation import gettext_lazy as _

from ccm.problems import problem_register

_Parse = phonenumbers.NumberParseException

PHONE_COUNTRY_CODE = problem_register(
    "customers.phone.country_code",
    _("%(value)r is not a phone number: its country code is not valid."),
)
PHONE_NOT_A_NUMBER = problem_register(
    "customers.phone.not_a_number",
    _("%(value)r is not a phone number."),
)
PHONE_TOO_SHORT = problem_register(
    "customers.phone.too_short",
    _("%(value)r is not a phone number: it is too short."),
)
PHONE_TOO_LONG = problem_register(
    "customers.phone.too_long",
    _("%(value)r is not a phone number: it is too long."),
)
PHONE_INVALID = problem_register(
    "customers.phone.invalid",
    _("%(value)r is not a valid phone number."),
)

# What phonenumbers' parse error types mean to the person who typed the number.
PARSE_PROBLEMS = {
    _Parse.INVALID_COUNTRY_CODE: PHONE_COUNTRY_CODE,
    _Parse.NOT_A_NUMBER: PHONE_NOT_A_NUMBER,
    _Parse.TOO_SHORT_AFTER_IDD: PHONE_TOO_SHORT,
    _Parse.TOO_SHORT_NSN: PHONE_TOO_SHORT,
    _Parse.TOO_LONG: PHONE_TOO_LONG,
}
