"""Incidents in the admin and on the dashboard: a critical incident pauses its
template in one click; owners, notes and root cause are changed audited."""

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from channels_app.incidents import incident_raise
from channels_app.models import Incident, Pause
from tests.factories import approved_version_build, user_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def critical(db):
    approved_version_build()
    incident, _ = incident_raise(
        kind=Incident.Kind.COMPLAINTS,
        key="complaints:payment-reminder",
        severity="critical",
        title="Complaints about payment-reminder",
        template_code="payment-reminder",
    )
    return incident


def test_a_critical_incident_pauses_its_template_in_one_click(client, critical):
    client.force_login(user_build(username="op-a", role="Operator"))
    page = client.get(reverse("admin:channels_app_incident_change", args=[critical.pk]))
    assert 'id="pause-template"' in page.content.decode()
    client.post(
        reverse("admin:channels_app_incident_pause_template", args=[critical.pk])
    )
    pause = Pause.objects.get()
    assert (pause.scope, pause.value) == ("template", "payment-reminder")
    assert f"Incident #{critical.pk}" in pause.reason


def test_the_dashboard_lists_open_incidents_with_the_pause_button(client, critical):
    client.force_login(user_build(username="op-b", role="Operator"))
    html = client.get("/ops/").content.decode()
    assert f'data-incident="{critical.pk}"' in html
    assert "pause-template" in html


def test_an_operator_sets_owner_notes_and_root_cause_audited(client, critical):
    operator = user_build(username="op-c", role="Operator")
    client.force_login(operator)
    client.post(
        reverse("admin:channels_app_incident_change", args=[critical.pk]),
        {"owner": operator.pk, "notes": "calling the print vendor", "root_cause": ""},
    )
    critical.refresh_from_db()
    assert critical.owner == operator
    assert critical.notes == "calling the print vendor"
    assert AuditEvent.objects.filter(action="channels.incident.changed").count() == 1
