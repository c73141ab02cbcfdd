"""Who may use the console, and whether they see a customer's contact data.

Every console page is a `console_view`: a signed-in user holding
`console.use_console` (and the view's own permissions), 403 otherwise, never
cached. An agent holding `console.unmask_contact` sees a customer's contact
data for UNMASK_SECONDS after unmasking it (`console.views.unmask`, audited).
"""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.cache import never_cache

from customers.models import Customer

# How long an unmask lasts in the agent's session.
UNMASK_SECONDS = 300
SESSION_UNMASKED = "console_unmasked"


def console_view(*permissions: str):
    """Require a signed-in user with the console permission (and `permissions`)."""

    def decorator(view):
        @login_required
        @never_cache
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(["console.use_console", *permissions]):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def contact_unmasked(request: HttpRequest, customer: Customer) -> bool:
    """Whether the agent unmasked this customer's contact data a moment ago."""
    if not request.user.has_perm("console.unmask_contact"):
        return False
    until = request.session.get(SESSION_UNMASKED, {}).get(str(customer.pk), 0)
    return until > timezone.now().timestamp()
