"""An admin site where users carry the audit link, beside the project's admin."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.urls import path

from audit.admin import AuditedAdminMixin
from ccm import urls as project_urls

audited_site = admin.AdminSite(name="audited")


class AuditedUserAdmin(AuditedAdminMixin, UserAdmin):
    list_display = (*UserAdmin.list_display, "audit_events_link")


audited_site.register(User, AuditedUserAdmin)

urlpatterns = [path("audited/", audited_site.urls), *project_urls.urlpatterns]
