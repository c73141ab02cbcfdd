"""The operations dashboard: figures from the rollups, who may see and act,
filters, links to the records, and the pause switch."""

import pytest
from django.urls import reverse

from channels_app.models import Dispatch, Pause
from channels_app.outbox import outbox_pump
from console.services import feedback_record
from tests.factories import user_build
from tests.rules.conftest import customer_build, trigger

pytestmark = pytest.mark.django_db
URL = "/ops/"


@pytest.fixture
def traffic(demo_templates, settings, tmp_path):
    """Three SMS reminders and one passcode sent, one complaint recorded."""
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", str(tmp_path)
    customer = customer_build("C-ops")
    for _ in range(3):
        trigger(customer, "payment-reminder")
    trigger(customer, "one-time-passcode")
    outbox_pump(channel="sms")
    agent = user_build(username="agent-ops", role="Agent")
    sent = Dispatch.objects.filter(status="sent").first()
    feedback_record(
        dispatch=sent, kind="complaint", severity="high", text="wrong", actor=agent
    )
    return customer


def _login(client, role: str):
    user = user_build(username=f"u-{role.lower()}", role=role)
    client.force_login(user)
    return user


def test_an_operator_sees_volumes_rates_queues_and_escalations(client, traffic):
    _login(client, "Operator")
    page = client.get(URL)
    assert page.status_code == 200
    html = page.content.decode()
    totals = {s: n for s, _l, n, _p, _k in page.context["totals"]}
    assert totals["created"] == 4
    assert totals["sent"] == 4
    templates = {row["code"]: row for row in page.context["templates"]}
    assert templates["payment-reminder"]["created"] == 3
    assert page.context["centre"].complaints == 1
    assert "<svg" in html
    assert 'id="pause-form"' in html
    high = next(r for r in page.context["severities"] if r.severity == "high")
    assert high.open == 1
    # A figure links to the records it counts.
    link = next(k for s, _l, _n, _p, k in page.context["totals"] if s == "sent")
    records = client.get(link)
    assert records.status_code == 200
    assert records.context["cl"].result_count == 4


def test_the_channel_filter_narrows_every_figure(client, traffic):
    _login(client, "Operator")
    page = client.get(URL, {"channel": "email", "period": "24h"})
    assert page.status_code == 200
    totals = {s: n for s, _l, n, _p, _k in page.context["totals"]}
    assert totals["created"] == 0


def test_the_category_filter_narrows_the_queues_and_the_contact_centre(client, traffic):
    trigger(traffic, "payment-reminder")  # collections, still queued
    _login(client, "Operator")
    collections = client.get(URL, {"category": "collections", "period": "24h"})
    security = client.get(URL, {"category": "security", "period": "24h"})
    assert collections.status_code == security.status_code == 200

    def due(page) -> int:
        return sum(q.due for q in page.context["queues"].channels)

    assert due(collections) == 1
    assert due(security) == 0
    # The complaint was about a payment reminder (collections).
    assert collections.context["centre"].complaints == 1
    assert (
        collections.context["centre"].by_template["payment-reminder"]["complaint"] == 1
    )
    assert security.context["centre"].complaints == 0


def test_a_filter_not_understood_is_a_400_naming_it_not_a_500(client, traffic):
    _login(client, "Operator")
    page = client.get(URL, {"period": "forever", "channel": "fax"})
    assert page.status_code == 400
    assert "period" in page.content.decode()


def test_reviewers_and_authors_see_it_read_only_agents_not_at_all(client, traffic):
    _login(client, "Reviewer")
    page = client.get(URL)
    assert page.status_code == 200
    assert 'id="pause-form"' not in page.content.decode()
    assert client.post(reverse("operations:pause-create"), {}).status_code == 403
    client.logout()
    _login(client, "Author")
    assert client.get(URL).status_code == 200
    client.logout()
    _login(client, "Agent")
    assert client.get(URL).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302


def test_the_dashboard_is_right_to_left_in_arabic(client, traffic):
    _login(client, "Operator")
    page = client.get(URL, HTTP_ACCEPT_LANGUAGE="ar")
    html = page.content.decode()
    assert 'dir="rtl"' in html
    assert "العمليات" in html


def test_an_operator_pauses_and_resumes_a_template_from_the_dashboard(client, traffic):
    _login(client, "Operator")
    trigger(traffic, "payment-reminder")
    answer = client.post(
        reverse("operations:pause-create"),
        {"scope": "template", "value": "payment-reminder", "reason": "wrong amount"},
        follow=True,
    )
    assert answer.status_code == 200
    pause = Pause.objects.get(resumed_at__isnull=True)
    assert [(p.pk, n) for p, n in answer.context["queues"].pauses] == [(pause.pk, 1)]
    assert outbox_pump(channel="sms") == {}
    answer = client.post(
        reverse("operations:pause-resume", args=[pause.pk]),
        {"reason": "fixed"},
        follow=True,
    )
    assert answer.context["queues"].pauses == []
    assert outbox_pump(channel="sms") == {"sent": 1}


def test_a_pause_of_nothing_is_refused_with_a_message(client, traffic):
    _login(client, "Operator")
    answer = client.post(
        reverse("operations:pause-create"),
        {"scope": "template", "value": "nope", "reason": "x"},
        follow=True,
    )
    assert answer.status_code == 200
    assert "no Template nope" in answer.content.decode()
    assert not Pause.objects.exists()


def test_the_admin_header_links_to_the_dashboard_for_those_who_may_see_it(client, db):
    _login(client, "Operator")
    assert 'id="ops-link"' in client.get("/admin/").content.decode()


def test_rollups_rebuild_recounts_the_same_figures(traffic):
    from io import StringIO

    from django.core.management import call_command

    from channels_app.models import DispatchRollup

    before = sorted(DispatchRollup.objects.values_list("span", "status", "count"))
    DispatchRollup.objects.all().delete()
    call_command("rollups_rebuild", stdout=StringIO())
    after = sorted(DispatchRollup.objects.values_list("span", "status", "count"))
    assert after == before


def test_first_contact_resolution_and_median_time_to_resolve(traffic):
    """A complaint resolved by the agent who took it counts as first contact;
    the median is the middle time to resolve, or the mean of the middle two."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.db.models import F

    from channels_app import lifecycle
    from channels_app.models import Escalation
    from console.models import Feedback
    from operations.selectors import Filters, contact_centre, volumes

    agent = get_user_model().objects.get(username="agent-ops")
    supervisor = user_build(username="supervisor-ops", role="Operator")
    for n, dispatch in enumerate(Dispatch.objects.filter(status="sent")[1:]):
        feedback_record(
            dispatch=dispatch,
            kind="complaint",
            severity="low",
            text=f"late {n}",
            actor=agent,
        )
    complaints = list(Feedback.objects.order_by("id"))
    filters = Filters(period="24h")

    def resolve(feedback, resolver, hours: int):
        lifecycle.escalation_resolve(
            escalation=feedback.escalation, actor=resolver, reason="done"
        )
        Escalation.objects.filter(pk=feedback.escalation_id).update(
            opened=F("resolved") - timedelta(hours=hours)
        )

    resolve(complaints[0], agent, 1)
    resolve(complaints[1], supervisor, 3)
    resolve(complaints[2], agent, 2)
    centre = contact_centre(filters, volumes(filters))
    assert (centre.complaints, centre.resolved) == (4, 3)
    assert centre.first_contact_resolved == 2
    assert centre.first_contact_rate == 50.0
    assert centre.median_hours == 2.0

    resolve(complaints[3], agent, 4)
    centre = contact_centre(filters, volumes(filters))
    assert (centre.resolved, centre.first_contact_resolved) == (4, 3)
    assert centre.median_hours == 2.5
