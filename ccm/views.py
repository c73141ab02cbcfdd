"""Project-level views: health and the per-user language switch."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from ccm.health import health_report, readiness_report
from ccm.models import UserSettings


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Report every part and the supervised processes; 503 when any part fails."""
    report = health_report()
    return JsonResponse(report, status=200 if not report["failing"] else 503)


@never_cache
@require_GET
def healthz_live(request: HttpRequest) -> JsonResponse:
    """Answer while the process serves requests; checks nothing else (liveness)."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def healthz_ready(request: HttpRequest) -> JsonResponse:
    """Answer 200 while this process can serve (its database answers), else 503."""
    report = readiness_report()
    return JsonResponse(report, status=200 if not report["failing"] else 503)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the UI language, remembered for the signed-in user."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = "/"
    response = redirect(next_url)
    if language not in dict(settings.LANGUAGES):
        return response
    if request.user.is_authenticated:
        UserSettings.objects.update_or_create(
            user=request.user, defaults={"language": language}
        )
    translation.activate(language)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        samesite="Lax",
        secure=request.is_secure(),
    )
    return response
