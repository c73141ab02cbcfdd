from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ccm import metrics, views
from preferences.api import CustomerPreferences
from subject_rights.api import CustomerErasure, CustomerExport

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz-live"),
    path("healthz/ready", views.healthz_ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/language", views.language_set, name="language_set"),
    path("admin/", admin.site.urls),
    path("account/", include("accounts.urls")),
    # The preference API sits above channels_app: its path is routed here.
    path(
        "api/v1/customers/<str:external_id>/preferences",
        CustomerPreferences.as_view(),
        name="api-preferences",
    ),
    path(
        "api/v1/customers/<str:external_id>/erasure",
        CustomerErasure.as_view(),
        name="api-erasure",
    ),
    path(
        "api/v1/customers/<str:external_id>/export",
        CustomerExport.as_view(),
        name="api-export",
    ),
    path("api/v1/", include("channels_app.urls")),
    path("agent/", include("console.urls")),
    # The customers' preference centre: short, as it is printed in SMS.
    path("p/", include("preferences.urls")),
    path("ops/", include("operations.urls")),
    *(
        [path("oidc/", include("mozilla_django_oidc.urls"))]
        if settings.OIDC_ENABLED
        else []
    ),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
