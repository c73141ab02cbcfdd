"""The second-factor pages and the lockout page."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import CodeForm
from accounts.mfa import (
    confirmed_device,
    device_enrol_confirm,
    device_qr_svg,
    device_secret,
    enrolment_device,
    session_needs_second_factor,
    session_verified,
    session_verify,
    verify_allowed,
)


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/admin/"


def _throttled(form, device) -> bool:
    allowed, wait = verify_allowed(device)
    if not allowed:
        form.add_error(
            None,
            ngettext(
                "Too many wrong codes: wait %(seconds)s second, then enter the "
                "code the app shows.",
                "Too many wrong codes: wait %(seconds)s seconds, then enter the "
                "code the app shows.",
                wait,
            )
            % {"seconds": wait},
        )
    return not allowed


@never_cache
@sensitive_post_parameters("otp_token")
def verify(request):
    """After the password: the code from the user's authenticator app."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    device = confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse('accounts:enrol')}?{request.GET.urlencode()}")
    if not session_needs_second_factor(request):
        return redirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not _throttled(form, device):
        if session_verify(
            request=request, device=device, token=form.cleaned_data["otp_token"]
        ):
            return redirect(_next(request))
        form.add_error("otp_token", _("That code is not right, or already used."))
    status = 400 if form.errors else 200
    return render(
        request,
        "accounts/verify.html",
        {"form": form, "next": _next(request), "title": _("Two-step sign-in")},
        status=status,
    )


@never_cache
@sensitive_post_parameters("otp_token")
def enrol(request):
    """Set up an authenticator app: its QR code and key, confirmed with a code.

    Only a user with no app yet may enrol here; one who has an app gives its
    code first (a password alone never replaces an enrolled app).
    """
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if confirmed_device(request.user) is not None:
        if not session_verified(request):
            return redirect(f"{reverse('accounts:verify')}?{request.GET.urlencode()}")
        return redirect(_next(request))
    device = enrolment_device(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid() and not _throttled(form, device):
        if device_enrol_confirm(
            request=request, device=device, token=form.cleaned_data["otp_token"]
        ):
            return redirect(_next(request))
        form.add_error(
            "otp_token",
            _("That code does not match: check the app's clock and try the next one."),
        )
    return render(
        request,
        "accounts/enrol.html",
        {
            "form": form,
            "next": _next(request),
            "qr_svg": device_qr_svg(device),
            "secret": device_secret(device),
            "issuer": settings.OTP_TOTP_ISSUER,
            "title": _("Set up two-step sign-in"),
        },
        status=400 if form.errors else 200,
    )


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in on a locked account (HTTP 429)."""
    return render(
        request,
        "accounts/locked_out.html",
        {
            "title": _("Account locked"),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
            "minutes": settings.AXES_COOLOFF_MINUTES,
        },
        status=settings.AXES_HTTP_RESPONSE_CODE,
    )
