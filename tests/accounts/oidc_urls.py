"""The project's URLs with single sign-on routed, as OIDC_RP_CLIENT_ID does."""

from django.urls import include, path

from ccm.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    path("oidc/", include("mozilla_django_oidc.urls")),
    *project_urlpatterns,
]
