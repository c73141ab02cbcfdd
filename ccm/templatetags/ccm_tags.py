"""The page frame's tags: the signed-in user's bar and stamped fragments.

Both write a template rendered once per language (`ccm.stamps`) with the
page's values: every console and operations page carries the user's bar, and
as a template rendered each time it cost a tenth of a search page's CPU.
"""

from django import template
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString

from ccm.stamps import stamp

register = template.Library()


@register.simple_tag(takes_context=True)
def user_bar(context, user_id: str = "console-user") -> SafeString:
    """Return the bar: who is signed in, their time zone, language, log out."""
    request = context["request"]
    user = request.user
    return stamp(
        "ccm/user_bar.html",
        {
            "user_id": user_id,
            "name": user.get_full_name() or user.get_username(),
            "zone": str(timezone.get_current_timezone()),
            "next": request.get_full_path(),
            # The page's own token (one masking a page), else a new one.
            "csrf_token": str(context.get("csrf_token") or get_token(request)),
        },
    )


@register.simple_tag
def stamped(template_name: str, **values) -> SafeString:
    """Write `template_name`, rendered once per language, with these values."""
    return stamp(template_name, values)
