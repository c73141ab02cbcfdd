"""Who may write, review and approve: the checks every service applies.

The admin asks the same questions (through `workflow.refusal`) to decide
which buttons to show, so a button appears exactly when its action would be
allowed.
"""

from collections.abc import Mapping

from django.contrib.auth.base_user import AbstractBaseUser
from django.utils.translation import gettext as _

from templates_app import selectors
from templates_app.errors import AuthoringForbidden, WorkflowRefused
from templates_app.models import Category

BLOCK_AUTHOR = "templates_app.change_contentblockversion"
BLOCK_REVIEW = "templates_app.review_contentblock"


def author_check(actor: AbstractBaseUser, category: Category) -> None:
    """Refuse unless the actor may author templates in the category."""
    if not selectors.user_may(actor, selectors.AUTHOR, category):
        raise AuthoringForbidden(
            _("%(user)s may not author templates in the category %(category)s.")
            % {"user": actor, "category": category}
        )


def block_author_check(actor: AbstractBaseUser) -> None:
    """Refuse unless the actor may author content blocks."""
    if not (actor.is_active and actor.has_perm(BLOCK_AUTHOR)):
        raise AuthoringForbidden(
            _("%(user)s may not author content blocks.") % {"user": actor}
        )


def review_check(actor: AbstractBaseUser, category: Category) -> None:
    """Refuse unless the actor may review in the category."""
    if not selectors.user_may(actor, selectors.REVIEW, category):
        raise WorkflowRefused(
            _(
                "%(user)s may not review in the category %(category)s: the "
                "review permission on the category is required."
            )
            % {"user": actor, "category": category},
            rule="permission",
        )


def block_review_check(actor: AbstractBaseUser) -> None:
    """Refuse unless the actor may review content blocks."""
    if not (actor.is_active and actor.has_perm(BLOCK_REVIEW)):
        raise WorkflowRefused(
            _("%(user)s may not review content blocks.") % {"user": actor},
            rule="permission",
        )


def segregation_check(
    actor: AbstractBaseUser,
    subject,
    editors: set[int],
    lineage: Mapping[int, object] | None = None,
) -> None:
    """Refuse an approval by the author, an editor, or a writer of the lineage."""
    if actor.pk == subject.author_id:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s wrote %(subject)s and may not "
                "approve it."
            )
            % {"user": actor, "subject": subject},
            rule="segregation",
        )
    if actor.pk in editors:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s edited %(subject)s and may not "
                "approve it."
            )
            % {"user": actor, "subject": subject},
            rule="segregation",
        )
    if lineage and actor.pk in lineage:
        raise WorkflowRefused(
            _(
                "Segregation of duties: %(user)s wrote or edited %(earlier)s, from "
                "which %(subject)s descends, and may not approve it."
            )
            % {"user": actor, "earlier": lineage[actor.pk], "subject": subject},
            rule="segregation",
        )
