from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from ccm import metrics, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("healthz/live", views.healthz_live, name="healthz-live"),
    path("healthz/ready", views.healthz_ready, name="healthz-ready"),
    path("metrics", metrics.metrics, name="metrics"),
    path("i18n/language", views.language_set, name="language_set"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("channels_app.urls")),
    path("agent/", include("console.urls")),
    path("ops/", include("operations.urls")),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
]
