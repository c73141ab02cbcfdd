"""Template tags of the review workflow for the admin's pages."""

from django import template

from templates_app.review_queue import review_queue

register = template.Library()


@register.simple_tag(takes_context=True)
def review_queue_size(context) -> int | None:
    """Return how many versions await the user's review; None for non-reviewers."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    if not (
        user.has_perm("templates_app.review_contentblock")
        or user.has_perm("templates_app.view_templateversion")
    ):
        return None
    return len(review_queue(user))
