"""Activate the language and time zone a signed-in user chose, on every device."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone, translation


def reader_time_zone(user) -> ZoneInfo:
    """Return the zone a user reads times in: their own, else the site's."""
    chosen = getattr(getattr(user, "ccm_settings", None), "time_zone", "")
    return ZoneInfo(chosen or settings.DISPLAY_TIME_ZONE)


class UserLanguageMiddleware:
    """Activate a signed-in user's language and the time zone they read times in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            # API clients and customers: times stay in the server's zone (UTC).
            return self.get_response(request)
        language = getattr(getattr(user, "ccm_settings", None), "language", "")
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        timezone.activate(reader_time_zone(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
