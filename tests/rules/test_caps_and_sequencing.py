"""Frequency caps, de-duplication and sequencing, through the real trigger path."""

from datetime import timedelta

import pytest

from audit.models import AuditEvent
from channels_app.models import Dispatch, DispatchStatusChange
from channels_app.outbox import dispatches_claim, dispatches_send
from tests.factories import rule_change_build
from tests.rules.conftest import at, cap, customer_build, dedupe, trigger

pytestmark = pytest.mark.django_db

Status = Dispatch.Status
# In the future: the outbox refuses to send on a lease that already ran out.
NOON = at("2027-06-01 12:00")


def _send_all(now):
    ids = dispatches_claim(now=now, limit=1000)
    if ids:
        dispatches_send(ids=ids)
    return ids


def test_the_excess_over_a_suppressing_cap_is_suppressed_with_the_reason(
    templates, customer
):
    rule = cap(2, 24 * 7)

    first, second, third = (
        trigger(customer, scheduled_for=NOON + timedelta(hours=n)).dispatches.get()
        for n in range(3)
    )

    assert first.status == second.status == Status.QUEUED
    assert third.status == Status.SUPPRESSED
    assert third.decision == "frequency cap reached: 2 of 2 in 7 days"
    (decision,) = third.rule_decisions
    assert (decision["rule"], decision["version"], decision["outcome"]) == (
        rule.name,
        1,
        "capped",
    )
    assert third.content_sha256 == ""  # no copy kept of what was never queued
    event = AuditEvent.objects.get(action="channels.dispatch.suppressed")
    assert event.object_id == str(third.pk)


def test_caps_count_across_channels_and_source_systems(templates, customer):
    cap(2, 24)
    trigger(customer, channels=["email"], source_system="core-banking")
    trigger(customer, channels=["sms"], source_system="crm")

    third = trigger(customer, channels=["email"], source_system="web").dispatches.get()

    assert third.status == Status.SUPPRESSED


def test_messages_outside_the_window_do_not_count(templates, customer):
    cap(1, 24)
    trigger(customer, scheduled_for=NOON)

    later = trigger(customer, scheduled_for=NOON + timedelta(hours=24)).dispatches
    assert later.get().status == Status.QUEUED


def test_a_deferring_cap_moves_the_excess_to_when_the_window_allows(
    templates, customer
):
    cap(1, 24, mode="defer")
    trigger(customer, scheduled_for=NOON)

    second = trigger(customer, scheduled_for=NOON + timedelta(hours=2)).dispatches
    dispatch = second.get()

    assert dispatch.status == Status.QUEUED
    assert dispatch.due_at == NOON + timedelta(hours=24)
    assert dispatch.rule_decisions[0]["outcome"] == "deferred"
    assert "frequency cap" in dispatch.rule_decisions[0]["reason"]


def test_mandatory_notices_are_never_capped(templates, customer):
    cap(1, 24, categories="", name="Any category, one a day")
    trigger(customer)

    passcode = trigger(customer, "one-time-passcode").dispatches.get()

    assert passcode.status == Status.QUEUED
    assert [d["outcome"] for d in passcode.rule_decisions] == ["exempted"]


def test_the_due_recheck_caps_what_went_out_meanwhile(templates, customer):
    """Two queued for different times: the later one is capped when it is due."""
    cap(1, 24)
    late = trigger(customer, scheduled_for=NOON + timedelta(hours=3)).dispatches.get()
    early = trigger(customer, scheduled_for=NOON).dispatches.get()
    assert late.status == early.status == Status.QUEUED

    assert _send_all(NOON) == [early.pk]
    assert _send_all(NOON + timedelta(hours=3)) == []

    late.refresh_from_db()
    assert late.status == Status.SUPPRESSED
    assert late.rule_decisions[-1]["stage"] == "due"
    assert DispatchStatusChange.objects.filter(
        dispatch=late, status=Status.SUPPRESSED
    ).exists()
    assert AuditEvent.objects.filter(
        action="rules.dispatch.capped", object_id=str(late.pk)
    ).exists()


def test_a_disabled_rule_does_nothing(templates, customer):
    rule = cap(1, 24)
    rule_change_build(rule, enabled=False, reason="campaign week")
    trigger(customer)

    assert trigger(customer).dispatches.get().status == Status.QUEUED


def test_the_decision_names_the_rule_version_in_force(templates, customer):
    rule = cap(1, 24)
    rule = rule_change_build(rule, cap_count=2, reason="looser")
    trigger(customer)
    trigger(customer)

    third = trigger(customer).dispatches.get()
    assert third.rule_decisions[0]["version"] == 2 == rule.version


# -- de-duplication ------------------------------------------------------------


def test_the_same_template_customer_and_key_within_the_window_goes_once(
    templates, customer
):
    dedupe()
    first = trigger(customer, correlation_key="INV-1").dispatches.get()

    again = trigger(customer, correlation_key="INV-1").dispatches.get()
    other_key = trigger(customer, correlation_key="INV-2").dispatches.get()
    no_key = trigger(customer).dispatches.get()

    assert first.status == Status.QUEUED
    assert again.status == Status.SUPPRESSED
    assert again.rule_decisions[0]["outcome"] == "deduplicated"
    assert other_key.status == no_key.status == Status.QUEUED


def test_a_suppressed_or_cancelled_first_does_not_count_as_sent(templates, customer):
    from channels_app.services import dispatch_cancel
    from tests.factories import user_build

    dedupe()
    first = trigger(customer, correlation_key="INV-1").dispatches.get()
    dispatch_cancel(dispatch=first, actor=user_build(username="op"), reason="wrong")

    again = trigger(customer, correlation_key="INV-1").dispatches.get()
    assert again.status == Status.QUEUED


def test_a_duplicate_older_than_the_window_is_sent_again(templates, customer):
    dedupe(hours=1)
    first = trigger(customer, correlation_key="INV-1").dispatches.get()
    Dispatch.objects.filter(pk=first.pk).update(
        created=first.created - timedelta(hours=2)
    )

    assert trigger(customer, correlation_key="INV-1").dispatches.get().status == (
        Status.QUEUED
    )


# -- sequencing ----------------------------------------------------------------


def test_payment_received_cancels_the_queued_reminder_for_the_same_account(
    templates, customer
):
    reminder = trigger(customer, correlation_key="ACC-1").dispatches.get()
    other_account = trigger(customer, correlation_key="ACC-2").dispatches.get()

    received = trigger(
        customer,
        correlation_key="ACC-1",
        supersedes=["payment-reminder"],
        channels=["email"],
    )

    reminder.refresh_from_db()
    other_account.refresh_from_db()
    assert reminder.status == Status.CANCELLED
    assert other_account.status == Status.QUEUED
    decision = reminder.rule_decisions[-1]
    assert decision["outcome"] == "superseded"
    assert f"communication {received.pk}" in decision["reason"]
    assert DispatchStatusChange.objects.filter(
        dispatch=reminder, status=Status.CANCELLED
    ).exists()
    event = AuditEvent.objects.get(action="rules.dispatch.superseded")
    assert event.object_id == str(reminder.pk)
    assert event.before == {"status": "queued"}
    assert received.dispatches.get().status == Status.QUEUED


def test_a_sent_reminder_is_not_cancelled(templates, customer):
    reminder = trigger(customer, correlation_key="ACC-1").dispatches.get()
    _send_all(reminder.due_at)

    trigger(customer, correlation_key="ACC-1", supersedes=["payment-reminder"])

    reminder.refresh_from_db()
    assert reminder.status == Status.SENT


def test_a_reminder_back_in_the_queue_after_a_retry_is_cancelled_when_due(
    templates, customer
):
    reminder = trigger(customer, correlation_key="ACC-1").dispatches.get()
    assert dispatches_claim(now=reminder.due_at) == [reminder.pk]  # in flight
    trigger(customer, correlation_key="ACC-1", supersedes=["payment-reminder"])
    reminder.refresh_from_db()
    assert reminder.status == Status.SENDING  # too late to stop this attempt
    # The attempt failed transiently and came back to the queue.
    Dispatch.objects.filter(pk=reminder.pk).update(status=Status.QUEUED)

    assert reminder.pk not in dispatches_claim(now=reminder.due_at + timedelta(1))

    reminder.refresh_from_db()
    assert reminder.status == Status.CANCELLED
    assert reminder.rule_decisions[-1]["stage"] == "due"


def test_within_one_bulk_call_a_later_communication_supersedes_an_earlier_one(
    templates, customer
):
    from channels_app.dispatching import TriggerRequest, communications_trigger_bulk
    from tests.rules.conftest import REMINDER

    reminder, received = communications_trigger_bulk(
        requests=[
            TriggerRequest(
                template_code="payment-reminder",
                customer=customer,
                data=REMINDER,
                channels=["sms"],
                correlation_key="ACC-1",
            ),
            TriggerRequest(
                template_code="payment-reminder",
                customer=customer,
                data=REMINDER,
                channels=["email"],
                correlation_key="ACC-1",
                supersedes=["payment-reminder"],
            ),
        ],
        requester_label="batch",
    )

    assert reminder.dispatches.get().status == Status.SUPPRESSED
    assert reminder.dispatches.get().rule_decisions[0]["outcome"] == "superseded"
    assert received.dispatches.get().status == Status.QUEUED


def test_a_communication_waits_until_the_one_it_waits_for_was_sent(templates):
    customer = customer_build("C-wait")
    first = trigger(customer, correlation_key="CASE-9", scheduled_for=NOON)
    second = trigger(
        customer,
        channels=["email"],
        correlation_key="CASE-9",
        waits_for=["payment-reminder"],
        scheduled_for=NOON - timedelta(hours=1),
    )
    waiting = second.dispatches.get()

    # Due first, but held while the reminder it waits for is still pending.
    assert _send_all(NOON - timedelta(hours=1)) == []
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED
    assert waiting.due_at == NOON
    assert waiting.rule_decisions[-1]["outcome"] == "held"

    sent = _send_all(NOON)
    assert first.dispatches.get().pk in sent
    assert waiting.pk not in sent  # held again: the reminder was only claimed
    assert _send_all(NOON + timedelta(minutes=2)) == [waiting.pk]
    waiting.refresh_from_db()
    assert waiting.status == Status.SENT
    assert [d["outcome"] for d in waiting.rule_decisions] == ["held"]


def test_two_communications_waiting_for_each_other_go_oldest_first(templates):
    customer = customer_build("C-cycle")
    older = trigger(
        customer,
        "one-time-passcode",
        waits_for=["payment-reminder"],
        scheduled_for=NOON,
    ).dispatches.get()
    younger = trigger(
        customer, waits_for=["one-time-passcode"], scheduled_for=NOON
    ).dispatches.get()

    # The older one waits for nothing created before it; the younger is held.
    assert _send_all(NOON) == [older.pk]
    younger.refresh_from_db()
    assert younger.status == Status.QUEUED
    assert younger.rule_decisions[-1]["outcome"] == "held"
    assert _send_all(NOON + timedelta(minutes=2)) == [younger.pk]
