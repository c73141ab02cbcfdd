"""The second factor: who must give one, enrolment and verification (TOTP).

After their password a user who must give a second factor is signed in but
not verified; `SecondFactorMiddleware` then lets them reach only the pages of
this module until they give a code (or enrol an authenticator app, when they
have none). Who must is decided at sign-in and kept in the session: users in
`MFA_REQUIRED_ROLES`, superusers (`MFA_REQUIRED_FOR_SUPERUSERS`), and anyone
who enrolled an app of their own accord.
"""

from base64 import b32encode

import segno
from django.conf import settings
from django.db import transaction
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

# True when this session's user must give a second factor (set at sign-in).
NEEDED_SESSION_KEY = "ccm_second_factor_needed"
# Set when the OpenID Connect provider asserted it asked for a second factor.
PROVIDER_MFA_SESSION_KEY = "ccm_provider_mfa"
DEVICE_NAME = "Authenticator app"


def second_factor_required(user) -> bool:
    """Whether the user's roles oblige them to sign in with a second factor."""
    if user.is_superuser and settings.MFA_REQUIRED_FOR_SUPERUSERS:
        return True
    roles = settings.MFA_REQUIRED_ROLES
    return bool(roles) and user.groups.filter(name__in=roles).exists()


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def second_factor_needed(user) -> bool:
    """Whether the user is asked for a code: obliged to, or enrolled anyway."""
    return second_factor_required(user) or confirmed_device(user) is not None


def second_factor_note(sender, request, user, **kwargs) -> None:
    """At sign-in, note in the session whether a second factor is still due."""
    if request is not None and hasattr(request, "session"):
        request.session[NEEDED_SESSION_KEY] = second_factor_needed(user)
        # Only a single sign-on whose provider asserted a second factor.
        request.session[PROVIDER_MFA_SESSION_KEY] = bool(
            getattr(user, "ccm_provider_mfa", False)
        )


def session_verified(request) -> bool:
    """Whether this session's user gave their second factor."""
    if request.session.get(PROVIDER_MFA_SESSION_KEY):
        return True
    is_verified = getattr(request.user, "is_verified", None)
    return bool(is_verified and is_verified())


def session_needs_second_factor(request) -> bool:
    needed = request.session.get(NEEDED_SESSION_KEY)
    if needed is None:  # a session from before this check existed
        needed = request.session[NEEDED_SESSION_KEY] = second_factor_needed(
            request.user
        )
    return needed and not session_verified(request)


def enrolment_device(user) -> TOTPDevice:
    """The unconfirmed device the user is enrolling (made once, then reused)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def device_secret(device: TOTPDevice) -> str:
    """The key as authenticator apps take it typed in: base32, in groups of 4."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def device_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (no request leaves the page)."""
    return segno.make(device.config_url, error="m").svg_inline(
        scale=5, dark="#000", light="#fff"
    )


def verify_allowed(device: TOTPDevice) -> tuple[bool, int]:
    """(allowed, seconds to wait) after wrong codes (django-otp's backoff)."""
    allowed, data = device.verify_is_allowed()
    if allowed:
        return True, 0
    from django.utils import timezone

    until = (data or {}).get("locked_until")
    wait = int((until - timezone.now()).total_seconds()) + 1 if until else 1
    return False, max(wait, 1)


@transaction.atomic
def device_enrol_confirm(*, request, device: TOTPDevice, token: str) -> bool:
    """Confirm an enrolment with a code from the app; the session is verified."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if not device.verify_token(token):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=device.user_id).exclude(pk=device.pk).delete()
    request.session.cycle_key()  # a new session id for the fuller sign-in
    otp_login(request, device)
    request.session[NEEDED_SESSION_KEY] = True
    return True


@transaction.atomic
def session_verify(*, request, device: TOTPDevice, token: str) -> bool:
    """Verify the session's user with a code of their confirmed device."""
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    if device.user_id != request.user.pk or not device.verify_token(token):
        return False
    request.session.cycle_key()
    otp_login(request, device)
    return True


def session_device_id(request) -> str | None:
    return request.session.get(DEVICE_ID_SESSION_KEY)
