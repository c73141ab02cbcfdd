"""Operators manage the rules in the admin and ask what they would do, and why."""

from datetime import time

import pytest
from django.urls import reverse

from audit.models import AuditEvent
from ccm.roles import AGENT, OPERATOR
from channels_app.models import Communication, Dispatch
from rules.demo import rules_demo_seed
from rules.models import Rule
from rules.services import rule_update
from tests.factories import user_build
from tests.rules.conftest import at, cap, customer_build, sms_quiet_hours, trigger

pytestmark = pytest.mark.django_db

ADD = {
    "name": "SMS quiet hours",
    "kind": "quiet_hours",
    "enabled": "on",
    "channel": "sms",
    "category_kind": "",
    "categories": "",
    "quiet_start": "21:00",
    "quiet_end": "08:00",
    "exempt_mandatory": "on",
    "exempt_categories": "",
    "cap_count": "",
    "window_hours": "",
    "cap_mode": "",
    "reason": "complaints about night SMS",
}


@pytest.fixture
def operator(client):
    user = user_build(username="omar", role=OPERATOR)
    client.force_login(user)
    return user


def test_an_operator_adds_a_rule_audited_and_versioned(client, operator):
    response = client.post(reverse("admin:rules_rule_add"), ADD)

    assert response.status_code == 302, response.content.decode()[:2000]
    rule = Rule.objects.get()
    assert (rule.version, rule.quiet_start, rule.exempt_mandatory) == (
        1,
        time(21),
        True,
    )
    event = AuditEvent.objects.get(action="rules.rule.created")
    assert event.actor == operator
    assert event.after["quiet_start"] == "21:00"
    assert event.reason == "complaints about night SMS"
    assert rule.history.get().history_change_reason == "complaints about night SMS"


def test_a_change_bumps_the_version_and_records_before_and_after(client, operator):
    rule = sms_quiet_hours()
    url = reverse("admin:rules_rule_change", args=[rule.pk])

    response = client.post(url, {**ADD, "quiet_start": "22:00", "reason": "later"})

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.version, rule.quiet_start) == (2, time(22))
    event = AuditEvent.objects.get(action="rules.rule.changed")
    assert (event.before["quiet_start"], event.after["quiet_start"]) == (
        "21:00",
        "22:00",
    )
    assert (event.before["version"], event.after["version"]) == (1, 2)
    assert rule.history.count() == 2


def test_an_incomplete_rule_is_refused_naming_the_field(client, operator):
    response = client.post(
        reverse("admin:rules_rule_add"),
        {**ADD, "kind": "frequency_cap", "quiet_start": "", "quiet_end": ""},
    )

    assert response.status_code == 200
    assert "A frequency cap needs a count of at least 1." in response.content.decode()
    assert "Give the window in hours" in response.content.decode()
    assert not Rule.objects.exists()


def test_unknown_category_codes_are_refused(client, operator, templates):
    response = client.post(
        reverse("admin:rules_rule_add"), {**ADD, "exempt_categories": "securty"}
    )

    assert "Unknown category code(s): securty." in response.content.decode()


def test_deleting_a_rule_is_audited(client, operator):
    rule = sms_quiet_hours()

    client.post(reverse("admin:rules_rule_delete", args=[rule.pk]), {"post": "yes"})

    assert not Rule.objects.exists()
    assert AuditEvent.objects.get(action="rules.rule.deleted").before["name"] == (
        "SMS quiet hours"
    )


def test_an_agent_cannot_manage_rules(client):
    client.force_login(user_build(username="aisha", role=AGENT))

    assert client.get(reverse("admin:rules_rule_changelist")).status_code == 403
    assert client.get(reverse("admin:rules_rule_dry_run")).status_code == 403


def test_the_rule_list_links_to_the_dry_run(client, operator):
    rules_demo_seed()

    page = client.get(reverse("admin:rules_rule_changelist")).content.decode()

    assert reverse("admin:rules_rule_dry_run") in page
    assert "Marketing: at most 3 a week" in page


def test_the_dry_run_explains_each_rule_and_writes_nothing(client, operator, templates):
    sms_quiet_hours()
    cap(1, 24)
    customer = customer_build("C-dry", time_zone="Pacific/Kiritimati")
    # One collections message two hours before.
    trigger(customer, channels=["email"], scheduled_for=at("2027-06-01 10:00"))
    counts = (
        Communication.objects.count(),
        Dispatch.objects.count(),
        AuditEvent.objects.count(),
    )

    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {
            "customer": "C-dry",
            "template": "payment-reminder",
            "at": "2027-06-01 12:00",  # 02:00 the next day in Kiritimati
        },
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "SMS quiet hours" in page
    assert "within quiet hours" in page and "Pacific/Kiritimati" in page
    assert "frequency cap reached" in page
    explanation = response.context["explanation"]
    email, sms = explanation.channels
    assert email.verdict.status == sms.verdict.status == "suppressed"
    assert [e["outcome"] for e in sms.verdict.trace][:1] == ["deferred"]
    assert counts == (
        Communication.objects.count(),
        Dispatch.objects.count(),
        AuditEvent.objects.count(),
    )


def test_the_dry_run_lists_what_a_superseding_message_would_cancel(
    client, operator, templates
):
    customer = customer_build("C-seq")
    reminder = trigger(customer, correlation_key="ACC-1").dispatches.get()

    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {
            "customer": "C-seq",
            "template": "payment-reminder",
            "correlation_key": "ACC-1",
            "supersedes": "payment-reminder",
        },
    )

    assert [d.pk for d in response.context["explanation"].would_cancel] == [reminder.pk]


def test_the_dry_run_names_an_unknown_customer(client, operator, templates):
    response = client.get(
        reverse("admin:rules_rule_dry_run"),
        {"customer": "NOPE", "template": "payment-reminder"},
    )

    assert "No customer with external id NOPE." in response.content.decode()


def test_rule_update_without_a_change_keeps_the_version():
    rule = sms_quiet_hours()

    assert rule_update(rule=rule, quiet_start=time(21)).version == 1
    assert not AuditEvent.objects.filter(action="rules.rule.changed").exists()


def test_demo_defaults_are_seeded_once():
    rules_demo_seed()
    rules_demo_seed()

    assert Rule.objects.count() == 4
    assert AuditEvent.objects.filter(action="rules.rule.created").count() == 4
