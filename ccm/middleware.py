"""Activate the reader's language and time zone: a signed-in user's choices,
an API client's Accept-Language header."""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.http import HttpResponseBadRequest, JsonResponse
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


def _nul_in_request(request) -> str | None:
    """Return where a request carries a NUL character (path, query, a header)."""
    if "\x00" in request.path_info:
        return "path"
    query = request.META.get("QUERY_STRING", "")
    if "\x00" in query or "%00" in query.lower():
        return "query"
    for name, value in request.META.items():
        if name.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            return name[5:].replace("_", "-").title()
    return None


class NulRefusedMiddleware:
    """Refuse a request with a NUL character in its address or headers: 400.

    No text the product stores or looks up may hold one (PostgreSQL refuses it
    in text), and no form or API field a client sends legitimately does; a
    path like `/api/v1/customers/a%00b/preferences` would otherwise reach a
    query and fail there with a 500.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        where = _nul_in_request(request)
        if where is None:
            return self.get_response(request)
        from ccm.api_errors import REQUEST_NUL

        problem = REQUEST_NUL(part=where)
        if request.path_info.startswith(API_PREFIX):
            return JsonResponse({"detail": [problem.as_api()]}, status=400)
        return HttpResponseBadRequest(str(problem), content_type="text/plain")
