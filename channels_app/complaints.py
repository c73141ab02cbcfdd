"""Complaint rates: how often recipients report a template's messages as spam.

A mailbox provider's complaint receipt moves the dispatch to complained
(`services.dispatch_receipt_record`); the rate is complaints over the
dispatches that reached the provider (sent, delivered or complained).
"""

from dataclasses import dataclass

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from channels_app.models import Dispatch

Status = Dispatch.Status
REACHED = (Status.SENT, Status.DELIVERED, Status.COMPLAINED)


@dataclass(frozen=True)
class ComplaintRate:
    template_code: str
    reached: int
    complaints: int

    @property
    def rate(self) -> float:
        return self.complaints / self.reached if self.reached else 0.0


def complaint_rates(*, template_codes: list[str] | None = None) -> list[ComplaintRate]:
    """Return each template's complaints and reached dispatches, worst rate first."""
    rows = Dispatch.objects.filter(status__in=REACHED)
    if template_codes is not None:
        rows = rows.filter(communication__template_code__in=template_codes)
    counted = (
        rows.values("communication__template_code")
        .annotate(
            reached=Count("id"),
            complaints=Count("id", filter=Q(status=Status.COMPLAINED)),
        )
        .order_by("communication__template_code")
    )
    rates = [
        ComplaintRate(
            row["communication__template_code"], row["reached"], row["complaints"]
        )
        for row in counted
    ]
    return sorted(rates, key=lambda r: (-r.rate, r.template_code))


@staff_member_required
def complaint_rates_view(request: HttpRequest, admin_site) -> HttpResponse:
    """The operators' table of complaint rates by template."""
    if not request.user.has_perm("channels_app.view_dispatch"):
        raise PermissionDenied
    return render(
        request,
        "admin/channels_app/dispatch/complaint_rates.html",
        {
            **admin_site.each_context(request),
            "title": _("Complaint rates by template"),
            "rates": complaint_rates(),
        },
    )
