"""The template owners' panel: complaints and incidents about one template.

Shown on the template's admin page (`templates_app.template_panels`) to
whoever may open it: its authors and reviewers. Figures cover the last 30
days and come from the rollups (sent, spam reports) and the feedback agents
recorded; incidents are listed newest first, open ones before resolved. No
customer's words are shown: only counts, rates and incident titles, which
name no one.
"""

from datetime import timedelta

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from channels_app.models import Dispatch, DispatchRollup, Incident
from console.models import Feedback
from operations.selectors import complaints_per_thousand, dispatch_link
from templates_app.models import Template
from templates_app.template_panels import Panel

DAYS = 30
INCIDENTS_SHOWN = 10


def template_panel(template: Template, user: AbstractBaseUser) -> Panel:
    """Return the complaints and incidents panel of one template."""
    since = timezone.now() - timedelta(days=DAYS)
    code = template.code
    rollups = dict(
        DispatchRollup.objects.filter(
            span=DispatchRollup.Span.DAY,
            start__gte=since,
            template_code=code,
            status__in=[Dispatch.Status.SENT, Dispatch.Status.COMPLAINED],
        )
        .values_list("status")
        .annotate(total=Sum("count"))
    )
    sent = rollups.get(Dispatch.Status.SENT, 0)
    spam = rollups.get(Dispatch.Status.COMPLAINED, 0)
    feedback = dict(
        Feedback.objects.filter(template_code=code, created__gte=since)
        .values_list("kind")
        .annotate(n=Count("*"))
    )
    complaints = feedback.get(Feedback.Kind.COMPLAINT, 0)
    incidents = list(
        Incident.objects.filter(template_code=code)
        .order_by("resolved", "-opened")
        .only("pk", "title", "severity", "status", "opened", "deadline", "resolved")[
            :INCIDENTS_SHOWN
        ]
    )
    may_open = user.has_perm("channels_app.view_incident")
    return Panel(
        template="operations/template_panel.html",
        context={
            "days": DAYS,
            "sent": sent,
            "spam": spam,
            "complaints": complaints,
            "compliments": feedback.get(Feedback.Kind.COMPLIMENT, 0),
            "feedback": feedback.get(Feedback.Kind.FEEDBACK, 0),
            "complaints_per_thousand": complaints_per_thousand(complaints + spam, sent),
            "incidents": [
                {
                    "incident": incident,
                    "url": reverse(
                        "admin:channels_app_incident_change", args=[incident.pk]
                    )
                    if may_open
                    else "",
                }
                for incident in incidents
            ],
            "spam_url": dispatch_link(
                status=Dispatch.Status.COMPLAINED, communication__template_code=code
            )
            if user.has_perm("channels_app.view_dispatch")
            else "",
        },
    )
