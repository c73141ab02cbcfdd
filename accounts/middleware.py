"""Hold a signed-in user who still owes a second factor at its pages."""

from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext

from accounts.mfa import confirmed_device, session_needs_second_factor

# Reachable before the second factor: its own pages, signing out, the
# language switch, static files and the probes (no session there anyway).
OPEN_PREFIXES = (
    "/account/",
    "/admin/logout/",
    "/i18n/",
    "/static/",
    "/healthz",
    "/metrics",
    "/oidc/",
)


class SecondFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path_info.startswith(OPEN_PREFIXES)
            and session_needs_second_factor(request)
        ):
            return self._hold(request, user)
        return self.get_response(request)

    @staticmethod
    def _hold(request, user):
        if request.path_info.startswith("/api/"):
            return JsonResponse(
                {
                    "detail": gettext(
                        "Sign-in is not complete: give the code from your "
                        "authenticator app first."
                    )
                },
                status=403,
            )
        name = "accounts:verify" if confirmed_device(user) else "accounts:enrol"
        query = urlencode({"next": request.get_full_path()})
        return redirect(f"{reverse(name)}?{query}")
