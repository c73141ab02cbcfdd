"""Re-certification in the review queue: the flag, the filter and the action."""

from datetime import timedelta

from django.contrib import admin, messages
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from templates_app import recertification
from templates_app.models import Recertification
from templates_app.services import AuthoringError


class CertificationFilter(admin.SimpleListFilter):
    """Versions in force whose certification has expired or expires soon."""

    title = _("re-certification")
    parameter_name = "certification"

    def lookups(self, request, model_admin):
        return [
            ("expired", _("expired")),
            ("due", _("expires within 30 days")),
        ]

    def queryset(self, request, queryset):
        if self.value() not in {"expired", "due"}:
            return queryset
        now = timezone.now()
        ids = [
            version.pk
            for version, until in recertification.versions_expiring(now)
            if (until <= now) == (self.value() == "expired")
        ]
        return queryset.filter(pk__in=ids)


def queryset_annotate(queryset):
    """Add what the flag needs: the latest re-certification of each version."""
    latest = Recertification.objects.filter(version=OuterRef("pk")).order_by("-at")
    return queryset.annotate(recertified_last=Subquery(latest.values("at")[:1]))


@admin.display(description=_("certified until"))
def certification(version):
    """Show when the approval expires, flagged when it has or soon will."""
    months = version.category.recertify_months if version.category_id else 0
    if version.status != "approved" or not months or version.decided_at is None:
        return "-"
    since = max(
        filter(None, [version.decided_at, getattr(version, "recertified_last", None)])
    )
    until = recertification.months_add(since, months)
    label = recertification.certification_label(until)
    shown = date_format(until, "SHORT_DATE_FORMAT")
    if label == "expired":
        return format_html(
            '<strong class="tpl-certification-expired">{} {}</strong>',
            gettext("Expired: re-certify"),
            shown,
        )
    if label == "due":
        return format_html(
            '<span class="tpl-certification-due">{} {}</span>',
            gettext("Expires"),
            shown,
        )
    return shown


@admin.action(description=_("Re-certify selected versions, unchanged"))
def recertify_versions(modeladmin, request, queryset):
    """Re-certify each selected approved version; report each refusal by name."""
    for version in queryset:
        try:
            recertification.version_recertify(version=version, actor=request.user)
        except AuthoringError as exc:
            modeladmin.message_user(request, f"{version}: {exc}", messages.ERROR)
        else:
            modeladmin.message_user(
                request,
                gettext("%(version)s re-certified.") % {"version": version},
            )


def flags(user, now=None) -> dict:
    """Return the dashboard's counts and the user's own versions due or expired."""
    now = now or timezone.now()
    rows = recertification.versions_expiring(now)
    return {
        "expired": sum(1 for _version, until in rows if until <= now),
        "due": sum(1 for _version, until in rows if now < until),
        "mine": [
            {"version": version, "until": until, "expired": until <= now}
            for version, until in rows
            if version.author_id == user.pk
        ],
        "horizon": now + timedelta(days=recertification.DUE_SOON_DAYS),
    }


@admin.register(Recertification)
class RecertificationAdmin(admin.ModelAdmin):
    """Who re-certified which version in force, when, and why: read only."""

    list_display = ["version", "reviewer", "at", "comment"]
    list_select_related = ["version__template", "reviewer"]
    search_fields = ["version__template__code"]
    readonly_fields = ["version", "reviewer", "at", "comment", "content_hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
