"""Who may write, review and approve: the checks every service applies.

The admin asks the same questions (through `workflow.refusal`) to decide
which buttons to show, so a button appears exactly when its action would be
allowed.
"""

from collections.abc import Mapping

from django.contrib.auth.base_user import AbstractBaseUser

from templates_app import problems, selectors
from templates_app.errors import AuthoringForbidden, WorkflowRefused
from templates_app.models import Category

BLOCK_AUTHOR = "templates_app.change_contentblockversion"
BLOCK_REVIEW = "templates_app.review_contentblock"


def author_check(actor: AbstractBaseUser, category: Category) -> None:
    """Refuse unless the actor may author templates in the category."""
    if not selectors.user_may(actor, selectors.AUTHOR, category):
        raise AuthoringForbidden(
            problems.AUTHOR_FORBIDDEN(user=actor, category=category)
        )


def block_author_check(actor: AbstractBaseUser) -> None:
    """Refuse unless the actor may author content blocks."""
    if not (actor.is_active and actor.has_perm(BLOCK_AUTHOR)):
        raise AuthoringForbidden(problems.BLOCK_AUTHOR_FORBIDDEN(user=actor))


def review_check(actor: AbstractBaseUser, category: Category) -> None:
    """Refuse unless the actor may review in the category."""
    if not selectors.user_may(actor, selectors.REVIEW, category):
        raise WorkflowRefused(
            problems.REVIEW_FORBIDDEN(user=actor, category=category),
            rule="permission",
        )


def block_review_check(actor: AbstractBaseUser) -> None:
    """Refuse unless the actor may review content blocks."""
    if not (actor.is_active and actor.has_perm(BLOCK_REVIEW)):
        raise WorkflowRefused(
            problems.BLOCK_REVIEW_FORBIDDEN(user=actor), rule="permission"
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
            problems.SEGREGATION_WROTE(user=actor, subject=subject),
            rule="segregation",
        )
    if actor.pk in editors:
        raise WorkflowRefused(
            problems.SEGREGATION_EDITED(user=actor, subject=subject),
            rule="segregation",
        )
    if lineage and actor.pk in lineage:
        raise WorkflowRefused(
            problems.SEGREGATION_LINEAGE(
                user=actor, earlier=lineage[actor.pk], subject=subject
            ),
            rule="segregation",
        )
