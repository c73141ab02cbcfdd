"""Template refusals: language choice, the review workflow (docs/api-errors.md)."""

from django.utils.translation import gettext_lazy as _

from ccm.problems import label_of, problem_register
from templates_app.models import Channel, Language, Status

_status = label_of(Status)
# What each target status makes of a version, in "cannot be ...".
VERB_WORDS = {
    Status.APPROVED: _("approved"),
    Status.IN_REVIEW: _("submitted"),
    Status.DRAFT: _("withdrawn"),
    Status.REJECTED: _("rejected"),
    Status.RETIRED: _("retired"),
}

LANGUAGE_UNAVAILABLE = problem_register(
    "templates.language.unavailable",
    _(
        "%(version)s has no %(channel)s content in %(language)s nor in the "
        "default language %(default)s."
    ),
    {
        "channel": label_of(Channel),
        "language": label_of(Language),
        "default": label_of(Language),
    },
)

# The review workflow (templates_app.permissions, templates_app.workflow).
STATE_REFUSED = problem_register(
    "templates.version.state_refused",
    _(
        "%(subject)s cannot be %(verb)s: it is %(status)s, and a version "
        "that is %(status)s may only become: %(allowed)s."
    ),
    {
        "verb": lambda target: VERB_WORDS.get(target, target),
        "status": _status,
        "allowed": lambda states: _status(states) or _("nothing (final)"),
    },
)
SEGREGATION_WROTE = problem_register(
    "templates.review.segregation_author",
    _("Segregation of duties: %(user)s wrote %(subject)s and may not approve it."),
)
SEGREGATION_EDITED = problem_register(
    "templates.review.segregation_editor",
    _("Segregation of duties: %(user)s edited %(subject)s and may not approve it."),
)
SEGREGATION_LINEAGE = problem_register(
    "templates.review.segregation_lineage",
    _(
        "Segregation of duties: %(user)s wrote or edited %(earlier)s, from "
        "which %(subject)s descends, and may not approve it."
    ),
)
REVIEW_FORBIDDEN = problem_register(
    "templates.review.forbidden",
    _(
        "%(user)s may not review in the category %(category)s: the "
        "review permission on the category is required."
    ),
)
BLOCK_REVIEW_FORBIDDEN = problem_register(
    "templates.review.block_forbidden",
    _("%(user)s may not review content blocks."),
)
AUTHOR_FORBIDDEN = problem_register(
    "templates.author.forbidden",
    _("%(user)s may not author templates in the category %(category)s."),
)
BLOCK_AUTHOR_FORBIDDEN = problem_register(
    "templates.author.block_forbidden",
    _("%(user)s may not author content blocks."),
)
APPROVED_ALREADY_BY = problem_register(
    "templates.review.distinct_approvals",
    _(
        "%(user)s already approved %(version)s; the category needs "
        "approvals by distinct reviewers."
    ),
)
REJECTION_REASON_REQUIRED = problem_register(
    "templates.review.reason_required",
    _("A rejection needs a reason for the author."),
)
HASH_MISMATCH = problem_register(
    "templates.review.hash_mismatch",
    _("Content hash mismatch, refusing to approve: %(problems)s"),
)
