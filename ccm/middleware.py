"""Activate the reader's language and time zone: a signed-in user's choices,
an API client's Accept-Language header."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation.trans_real import parse_accept_lang_header

API_PREFIX = "/api/"


def accept_language(request) -> str:
    """Return the first supported language the Accept-Language header asks for."""
    header = request.headers.get("Accept-Language", "")
    for code, _quality in parse_accept_lang_header(header):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return ""


def reader_time_zone(user) -> ZoneInfo:
    """Return the zone a user reads times in: their own, else the site's."""
    chosen = getattr(getattr(user, "ccm_settings", None), "time_zone", "")
    return ZoneInfo(chosen or settings.DISPLAY_TIME_ZONE)


class UserLanguageMiddleware:
    """A user's chosen language and time zone on every device; an API call's
    Accept-Language.

    An API client names the language of its error messages in each request,
    whoever it signs in as. API clients and customers read times in the
    server's zone (UTC).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = ""
        if request.path.startswith(API_PREFIX):
            language = accept_language(request)
        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        if not language and signed_in:
            language = getattr(getattr(user, "ccm_settings", None), "language", "")
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        if not signed_in:
            return self.get_response(request)
        timezone.activate(reader_time_zone(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
