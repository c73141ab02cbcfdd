"""The operations dashboard, and its pause switches.

Operators see and act; Reviewers and Authors (template owners) see only.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from channels_app import pauses
from channels_app.models import Channel, Dispatch, Pause
from operations import charts, selectors
from operations.forms import FilterForm, PauseForm, ResumeForm
from retention import selectors as retention_selectors
from subject_rights.models import ErasureRequest
from templates_app.models import Template

Status = Dispatch.Status
ERASURES_SHOWN = 10
OPERATE = ("operations.operate", "channels_app.add_pause", "channels_app.change_pause")


def dashboard_view(*permissions: str):
    """Require a signed-in user who may see the dashboard (and `permissions`)."""

    def decorator(view):
        @login_required
        @never_cache
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perms(["operations.view_dashboard", *permissions]):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _back(request: HttpRequest) -> str:
    target = request.POST.get("next", "")
    return target if target.startswith("/ops/") else reverse("operations:dashboard")


def _bucket_label(start, span: str) -> str:
    local = timezone.localtime(start)
    if span == "hour":
        return formats.time_format(local, "H:i")
    return formats.date_format(local, "d/m")


# A dispatch counted as sent may since have been delivered or bounced.
ENTERED = {
    Status.SENT: [Status.SENT, Status.DELIVERED, Status.BOUNCED],
    Status.DELIVERED: [Status.DELIVERED, Status.BOUNCED],
}


def _status_filter(status: str) -> dict[str, str]:
    """Return the admin filter of the dispatches that entered `status`."""
    if status == selectors.CREATED:
        return {}
    if status in ENTERED:
        return {"status__in": ",".join(ENTERED[status])}
    return {"status": status}


@require_GET
@dashboard_view()
def dashboard(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request.GET or None)
    problems = form.errors if form.is_bound and not form.is_valid() else None
    data = form.cleaned_data if form.is_bound and form.is_valid() else {}
    filters = selectors.Filters(
        period=data.get("period") or "7d",
        channel=data.get("channel") or "",
        category=data.get("category") or "",
    )
    now = timezone.now()
    figures = selectors.volumes(filters, now)
    win = figures.window
    since = win.start.isoformat()
    link = {
        "channel": filters.channel,
        "communication__category": filters.category,
        "created__gte": since,
    }
    labels = [_bucket_label(bucket, win.span) for bucket in win.buckets]
    channel_names = dict(Channel.choices)
    rate_labels = {
        "delivery": _("Delivered"),
        "bounce": _("Bounced"),
        "failure": _("Failed"),
        "suppression": _("Suppressed"),
        "complaint": _("Complaints"),
    }
    rates = [
        (key, rate_labels[key], figures.rates[key], figures.previous_rates[key])
        for key in selectors.RATES
    ]
    statuses = [
        (Status.SENT, _("Sent")),
        (Status.DELIVERED, _("Delivered")),
        (Status.BOUNCED, _("Bounced")),
        (Status.FAILED, _("Failed")),
        (Status.SUPPRESSED, _("Suppressed")),
        (Status.CANCELLED, _("Cancelled")),
    ]
    totals = [
        (
            status,
            label,
            figures.totals[status],
            figures.previous[status],
            selectors.dispatch_link(**_status_filter(status), **link),
        )
        for status, label in [(selectors.CREATED, _("Created")), *statuses]
    ]
    centre = selectors.contact_centre(filters, figures)
    names = {
        template.code: template.display_name
        for template in Template.objects.filter(code__in=[*figures.templates])
    }
    templates = [
        {
            "code": code,
            "name": names.get(code, code),
            "link": selectors.dispatch_link(communication__template_code=code, **link),
            "cells": [
                (
                    counts[status],
                    selectors.dispatch_link(
                        **_status_filter(status),
                        communication__template_code=code,
                        **link,
                    ),
                )
                for status, _label in statuses
            ],
            "created": counts[selectors.CREATED],
            "complaints": centre.by_template.get(code, {}).get("complaint", 0),
            "per_thousand": centre.complaints_per_thousand.get(code),
        }
        for code, counts in figures.templates.items()
    ]
    context = {
        "form": form,
        "problems": problems,
        "filters": filters,
        "window": win,
        "labels": labels,
        "series_table": [
            (label, [figures.series[c][i] for c in figures.series])
            for i, label in enumerate(labels)
        ],
        "series_names": [channel_names.get(c, c) for c in figures.series],
        "volume_chart": charts.line_chart(
            title=_("Dispatches created per %(span)s, by channel")
            % {"span": _("hour") if win.span == "hour" else _("day")},
            labels=labels,
            series={channel_names.get(c, c): v for c, v in figures.series.items()},
        ),
        "rates": rates,
        "rate_chart": charts.bar_chart(
            title=_("Rates, this period and the previous one (grey)"),
            bars=[(label, now_, was) for _k, label, now_, was in rates],
        ),
        "totals": totals,
        "statuses": statuses,
        "templates": templates,
        "queues": selectors.queues_now(filters, now),
        "severities": selectors.escalations_open(now),
        "incidents": selectors.incidents_open(now),
        "centre": centre,
        "now": now,
        "can_operate": request.user.has_perms(OPERATE),
        "pause_form": PauseForm(),
        "escalation_list": reverse("admin:channels_app_escalation_changelist"),
        "feedback_list": reverse("admin:console_feedback_changelist"),
        "batch_list": reverse("admin:channels_app_batch_changelist"),
        "pause_list": reverse("admin:channels_app_pause_changelist"),
        "dispatch_list": selectors.dispatch_link(),
    }
    return render(
        request, "operations/dashboard.html", context, status=400 if problems else 200
    )


@require_POST
@dashboard_view(*OPERATE)
def pause_create(request: HttpRequest) -> HttpResponse:
    form = PauseForm(request.POST)
    if not form.is_valid():
        messages.error(
            request,
            " ".join(
                " ".join(errors)
                if name == "__all__"
                else f"{form.fields[name].label}: {' '.join(errors)}"
                for name, errors in form.errors.items()
            ),
        )
        return redirect(_back(request))
    try:
        pause = pauses.pause_start(**form.cleaned_data, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Paused %(pause)s: its due dispatches are held.") % {"pause": pause},
        )
    return redirect(_back(request))


@require_POST
@dashboard_view(*OPERATE)
def pause_resume(request: HttpRequest, pk: int) -> HttpResponse:
    pause = get_object_or_404(Pause, pk=pk)
    form = ResumeForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        pauses.pause_resume(pause=pause, actor=request.user, reason=reason)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            _("Resumed %(pause)s: its held dispatches go out in order.")
            % {"pause": pause},
        )
    return redirect(_back(request))


@require_GET
@dashboard_view("retention.view_legalhold", "retention.view_retentionrun")
def retention(request: HttpRequest) -> HttpResponse:
    """Show the legal holds in force, the retention classes and the last runs."""
    context = {
        "holds": retention_selectors.holds_listed(active=True),
        "released": retention_selectors.holds_listed(active=False)[:10],
        "classes": retention_selectors.classes_listed(),
        "class_changes": retention_selectors.class_changes_open(),
        "runs": retention_selectors.runs_recent(),
        # Erasures on request, newest first, for who may read them.
        "erasures": ErasureRequest.objects.select_related("customer").order_by(
            "-requested_at", "-id"
        )[:ERASURES_SHOWN]
        if request.user.has_perm("subject_rights.view_erasurerequest")
        else None,
        # Beat's crontab reads the server's zone (TIME_ZONE).
        "schedule_zone": settings.TIME_ZONE,
        "can_place": request.user.has_perm("retention.add_legalhold"),
        "can_release": request.user.has_perm("retention.release_legalhold"),
        "now": timezone.now(),
    }
    return render(request, "operations/retention.html", context)
