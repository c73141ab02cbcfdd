"""Activate the reader's language: a signed-in user's choice, an API client's header."""

from django.utils import translation
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


class UserLanguageMiddleware:
    """A user's chosen language on every device; an API call's Accept-Language.

    An API client names the language of its error messages in each request,
    whoever it signs in as.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        language = ""
        if request.path.startswith(API_PREFIX):
            language = accept_language(request)
        user = getattr(request, "user", None)
        if not language and user is not None and user.is_authenticated:
            settings = getattr(user, "ccm_settings", None)
            language = getattr(settings, "language", "")
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = language
        return self.get_response(request)
