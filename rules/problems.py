"""The refusals of the review of rule changes (codes in docs/api-errors.md)."""

from django.utils.translation import gettext_lazy as _

from ccm.problems import label_of, problem_register
from rules.models import RuleVersion

NOT_DECIDABLE = problem_register(
    "rules.review.not_proposed",
    _("%(version)s is %(status)s: only a proposed change can be decided."),
    {"status": label_of(RuleVersion.Status)},
)
SEGREGATION = problem_register(
    "rules.review.segregation",
    _(
        "Segregation of duties: you proposed %(version)s, so another "
        "operator must approve or reject it."
    ),
)
REJECTION_REASON_REQUIRED = problem_register(
    "rules.review.reason_required",
    _("Say why the change is rejected: the proposer reads the comment."),
)
