"""The errors that open incidents on their own: an approved template that
fails to render, mailbox providers' spam reports above a threshold, and a
queue whose oldest due dispatch has waited too long."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from channels_app import services
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.incidents import queues_watch
from channels_app.models import Dispatch, Incident
from channels_app.outbox import dispatches_claim, dispatches_send
from channels_app.pauses import pause_resume, pause_start
from tests.factories import approved_version_build, dispatch_build, user_build
from tests.rules.conftest import customer_build

pytestmark = pytest.mark.django_db

SHARES = {
    "code": "share-statement",
    "name": "Share statement",
    "category": "policy-servicing",
    "description": "A statement whose ratio divides by the data's share count.",
    "channels": ["email"],
    "default_language": "en",
    "data_schema": {
        "type": "object",
        "required": ["total", "shares"],
        "properties": {"total": {"type": "number"}, "shares": {"type": "number"}},
    },
    "sample_data": {"total": 100, "shares": 4},
    "contents": [
        (
            "email",
            "en",
            {
                "subject": "Your statement",
                "html": "<p>Per share: {{ total / shares }}</p>",
                "text": "",
            },
        ),
    ],
}


@pytest.fixture
def faulty(demo_templates):
    """An approved template that cannot render shares = 0, which its schema allows."""
    from django.contrib.auth import get_user_model

    from templates_app.demo_duplicates import approved_templates_seed

    users = get_user_model().objects
    (template,) = approved_templates_seed(
        [SHARES],
        category_code="policy-servicing",
        author=users.get(username="demo-author"),
        reviewer=users.get(username="demo-reviewer"),
    )
    return template


def test_an_approved_template_that_fails_to_render_opens_one_incident(faulty):
    customer = customer_build("C-render")
    for _ in range(2):
        with pytest.raises(TriggerRefused):
            communication_trigger(
                template_code="share-statement",
                customer=customer,
                data={"total": 100, "shares": 0},
                channels=["email"],
                requester_label="statements",
            )

    incident = Incident.objects.get()
    assert (incident.kind, incident.severity) == ("render_failure", "high")
    assert incident.template_code == "share-statement"
    assert incident.occurrences == 2
    # Where and what kind of error, never the customer's data.
    assert "email/en" in incident.title and "100" not in incident.title


def test_a_render_failure_through_the_api_is_refused_and_still_opens_the_incident(
    faulty,
):
    system = user_build(username="statements", is_staff=False)
    system.groups.add(Group.objects.get(name="API client"))
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    body = {
        "template": "share-statement",
        "customer": {"external_id": "C-api", "name": "Noura", "email": "n@example.com"},
        "data": {"total": 100, "shares": 0},
        "data_source": {"system": "statements", "reference": "S-1"},
        "channels": ["email"],
    }

    response = api.post(
        "/api/v1/communications", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert response.status_code == 400 and "data" in response.json()
    incident = Incident.objects.get(kind="render_failure")
    assert incident.occurrences == 1


def test_spam_reports_above_the_threshold_open_the_template_s_incident(settings):
    settings.INCIDENT_COMPLAINT_MIN = 3
    settings.INCIDENT_COMPLAINT_RATE_PER_1000 = 3.0
    version = approved_version_build()
    for n in range(10):
        dispatch_build(version=version, customer=customer_build(f"C-c{n}"))
    dispatches_send(ids=dispatches_claim(limit=20))
    sent = list(Dispatch.objects.filter(status="sent").order_by("id"))

    for dispatch in sent[:2]:
        services.dispatch_receipt_record(
            dispatch=dispatch, event="complaint", provider="mailbox"
        )
    assert not Incident.objects.exists(), "two reports are under the threshold"

    for dispatch in sent[2:4]:
        services.dispatch_receipt_record(
            dispatch=dispatch, event="complaint", provider="mailbox"
        )
    incident = Incident.objects.get()
    assert (incident.kind, incident.severity) == ("complaints", "high")
    assert incident.key == "complaints:payment-reminder"
    assert incident.occurrences == 2  # the third and the fourth report
    assert "3 spam reports for 10 sent" in incident.title  # when it opened


def test_a_stuck_queue_opens_one_critical_incident_but_a_paused_one_does_not(
    settings,
):
    settings.INCIDENT_STUCK_QUEUE_MINUTES = 15
    version = approved_version_build()
    late = dispatch_build(version=version, customer=customer_build("C-s1"))
    Dispatch.objects.filter(pk=late.pk).update(
        due_at=late.due_at - timedelta(minutes=40)
    )
    dispatch_build(version=version, customer=customer_build("C-s2"))  # due now
    operator = user_build(username="ops", role="Operator")

    pause = pause_start(
        scope="template", value="payment-reminder", reason="wrong rate", actor=operator
    )
    assert queues_watch() == [], "a paused template's dispatches are held, not stuck"

    pause_resume(pause=pause, actor=operator, reason="fixed")
    [incident] = queues_watch()
    assert (incident.kind, incident.severity) == ("stuck_queue", "critical")
    assert incident.key == "stuck_queue:email"
    assert "40 minutes" in incident.title
    # The next watch joins it: one incident, counted.
    queues_watch()
    assert Incident.objects.get().occurrences == 2
