"""Incidents by severity: a storm of provider refusals is one critical incident
and one notification; complaints join their template's incident; owners
acknowledge and resolve with a root cause, every change audited."""

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from audit.models import AuditEvent
from channels_app.backends import PermanentError
from channels_app.incidents import incident_acknowledge, incident_resolve
from channels_app.models import Dispatch, Incident, SeverityPolicy
from channels_app.outbox import Outcome, dispatches_claim, outcomes_record
from console.services import feedback_record
from tests.factories import approved_version_build, dispatch_build, user_build
from tests.rules.conftest import customer_build

pytestmark = pytest.mark.django_db


@pytest.fixture
def on_call(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.INCIDENT_STORM_THRESHOLD = 10
    group = Group.objects.get(name="Operator")
    user_build(username="ops-lead", role="Operator", email="lead@example.com")
    return SeverityPolicy.objects.create(
        severity="critical",
        deadline_minutes=30,
        owner_group=group,
        on_call="pager@example.com\n",
    )


def test_a_provider_failure_storm_opens_one_critical_incident_and_one_email(
    on_call, django_capture_on_commit_callbacks
):
    version = approved_version_build()
    customer = customer_build("C-storm")
    for _ in range(60):
        dispatch_build(version=version, customer=customer, channel="sms")
    for _ in range(3):  # three batches of twenty, every one refused
        with django_capture_on_commit_callbacks(execute=True):
            ids = dispatches_claim(limit=20, channel="sms")
            rows = Dispatch.objects.filter(id__in=ids).select_related("communication")
            outcomes_record(
                outcomes=[
                    Outcome(
                        d, d.attempt_count, timezone.now(), error=PermanentError("x")
                    )
                    for d in rows
                ]
            )

    incident = Incident.objects.get()
    assert incident.severity == "critical"
    assert incident.kind == "provider_refusal"
    assert incident.occurrences == 60
    assert incident.dispatches.count() == 60
    assert incident.owner_group.name == "Operator"
    assert (incident.deadline - incident.opened).total_seconds() == 30 * 60
    assert len(mail.outbox) == 1
    assert set(mail.outbox[0].to) >= {"lead@example.com", "pager@example.com"}
    assert "[Critical]" in mail.outbox[0].subject
    assert AuditEvent.objects.filter(action="channels.incident.opened").count() == 1


def test_a_few_failures_open_no_incident(on_call):
    version = approved_version_build()
    for n in range(3):
        dispatch_build(version=version, customer=customer_build(f"C-f{n}"))
    rows = Dispatch.objects.filter(id__in=dispatches_claim(limit=10))
    outcomes_record(
        outcomes=[
            Outcome(d, d.attempt_count, timezone.now(), error=PermanentError("x"))
            for d in rows.select_related("communication")
        ]
    )
    assert not Incident.objects.exists()


def test_complaints_join_their_template_s_incident_and_compliments_do_not(on_call):
    version = approved_version_build()
    agent = user_build(username="agent-i", role="Agent")
    dispatches = [
        dispatch_build(version=version, customer=customer_build(f"C-c{n}"))
        for n in range(3)
    ]
    for dispatch, severity in zip(dispatches[:2], ["medium", "high"], strict=True):
        feedback_record(
            dispatch=dispatch,
            kind="complaint",
            severity=severity,
            text="wrong amount",
            actor=agent,
        )
    feedback_record(
        dispatch=dispatches[2],
        kind="compliment",
        severity="low",
        text="thanks",
        actor=agent,
    )
    incident = Incident.objects.get()
    assert incident.key == "complaints:payment-reminder"
    assert incident.template_code == "payment-reminder"
    assert incident.occurrences == 2
    assert incident.severity == "high"  # raised by the second complaint
    assert set(incident.dispatches.values_list("pk", flat=True)) == {
        d.pk for d in dispatches[:2]
    }


def test_an_owner_acknowledges_then_resolves_with_a_root_cause_audited(on_call):
    operator = user_build(username="op-i", role="Operator")
    version = approved_version_build()
    agent = user_build(username="agent-j", role="Agent")
    feedback_record(
        dispatch=dispatch_build(version=version, customer=customer_build("C-r")),
        kind="complaint",
        severity="medium",
        text="wrong",
        actor=agent,
    )
    incident = Incident.objects.get()
    incident = incident_acknowledge(incident=incident, actor=operator, note="looking")
    assert incident.owner == operator
    with pytest.raises(ValidationError, match="root cause"):
        incident_resolve(incident=incident, actor=operator, root_cause=" ")
    incident = incident_resolve(
        incident=incident, actor=operator, root_cause="amount field mapped wrongly"
    )
    assert incident.status == "resolved"
    with pytest.raises(ValidationError, match="cannot become"):
        incident_acknowledge(incident=incident, actor=operator)
    assert list(
        AuditEvent.objects.filter(action__startswith="channels.incident.")
        .order_by("sequence")
        .values_list("action", flat=True)
    ) == [
        "channels.incident.opened",
        "channels.incident.acknowledged",
        "channels.incident.resolved",
    ]
    # A new complaint after the resolution opens a new incident.
    feedback_record(
        dispatch=dispatch_build(version=version, customer=customer_build("C-s")),
        kind="complaint",
        severity="low",
        text="again",
        actor=agent,
    )
    assert Incident.objects.count() == 2


def test_a_bounce_storm_of_one_template_opens_one_high_incident(settings):
    settings.INCIDENT_BOUNCE_STORM = 3
    settings.SMS_PROVIDER = "file"
    from channels_app import services
    from channels_app.outbox import dispatches_send

    version = approved_version_build()
    for n in range(5):
        dispatch_build(version=version, customer=customer_build(f"C-b{n}"))
    dispatches_send(ids=dispatches_claim(limit=10))
    for dispatch in Dispatch.objects.filter(status="sent").order_by("id"):
        services.dispatch_receipt_record(
            dispatch=dispatch, event="bounced", provider="test"
        )
    incident = Incident.objects.get()
    assert (incident.kind, incident.severity) == ("bounce_storm", "high")
    assert incident.occurrences == 3  # the third, fourth and fifth bounce
    assert incident.template_code == "payment-reminder"
