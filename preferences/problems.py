"""The refusals of the preference API (codes in docs/api-errors.md)."""

from django.utils.translation import gettext_lazy as _

from ccm.problems import problem_register

CATEGORY_UNKNOWN = problem_register(
    "preferences.category.unknown", _("Unknown category %(code)s.")
)
INSTRUCTIONS_TOO_MANY = problem_register(
    "preferences.instructions.too_many",
    _("At most %(limit)s instructions per request."),
)
CUSTOMER_UNKNOWN = problem_register(
    "preferences.customer.unknown", _("Unknown customer %(id)s.")
)
