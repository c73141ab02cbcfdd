from django.contrib import admin
from django.urls import path

from ccm import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("i18n/language", views.language_set, name="language_set"),
    path("admin/", admin.site.urls),
]
