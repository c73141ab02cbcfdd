"""Quiet hours defer to the next allowed local time, across DST and the date line."""

from datetime import time

import pytest

from channels_app.models import Dispatch
from channels_app.outbox import dispatches_claim
from rules.timing import quiet_until, zone
from tests.rules.conftest import at, customer_build, sms_quiet_hours, trigger

NIGHT = {"start": time(21), "end": time(8)}


@pytest.mark.parametrize(
    ("instant", "tz", "expected"),
    [
        # Riyadh (+3): 22:30 local → 08:00 next morning.
        ("2026-06-01 19:30", "Asia/Riyadh", "2026-06-02 05:00"),
        # 03:00 local, after midnight → 08:00 the same morning.
        ("2026-06-02 00:00", "Asia/Riyadh", "2026-06-02 05:00"),
        # Kiritimati (+14): 12:00 UTC is 02:00 the next calendar day there.
        ("2026-06-01 12:00", "Pacific/Kiritimati", "2026-06-01 18:00"),
        # Pago Pago (-11): 12:00 UTC is 01:00 the same calendar day there.
        ("2026-06-01 12:00", "Pacific/Pago_Pago", "2026-06-01 19:00"),
        # New York, spring forward (8 March 2026): 01:00 EST → 08:00 EDT.
        ("2026-03-08 06:00", "America/New_York", "2026-03-08 12:00"),
        # New York, fall back (1 November 2026): 23:00 EDT → 08:00 EST.
        ("2026-11-01 03:00", "America/New_York", "2026-11-01 13:00"),
    ],
)
def test_night_is_deferred_to_eight_local(instant, tz, expected):
    assert quiet_until(at(instant), tz=zone(tz), **NIGHT) == at(expected)


@pytest.mark.parametrize(
    ("instant", "tz"),
    [
        ("2026-06-01 12:00", "Asia/Riyadh"),  # 15:00
        ("2026-06-01 17:59", "Asia/Riyadh"),  # 20:59
        ("2026-06-01 05:00", "Asia/Riyadh"),  # 08:00 exactly: the end is allowed
        ("2026-06-01 00:00", "Pacific/Kiritimati"),  # 14:00
        ("2026-06-01 00:00", "Pacific/Pago_Pago"),  # 13:00 the day before
    ],
)
def test_daytime_is_not_quiet(instant, tz):
    assert quiet_until(at(instant), tz=zone(tz), **NIGHT) is None


def test_an_end_inside_the_spring_forward_gap_is_the_moment_the_clocks_jump():
    """02:30 does not exist in New York on 8 March 2026: 03:00 EDT is the first."""
    until = quiet_until(
        at("2026-03-08 06:00"),  # 01:00 EST
        start=time(21),
        end=time(2, 30),
        tz=zone("America/New_York"),
    )
    assert until == at("2026-03-08 07:00")
    assert until.astimezone(zone("America/New_York")).hour == 3


def test_an_end_inside_the_fall_back_overlap_is_the_next_occurrence():
    """01:30 happens twice in New York on 1 November 2026."""
    ny = zone("America/New_York")
    first_pass = at("2026-11-01 05:10")  # 01:10 EDT
    second_pass = at("2026-11-01 06:10")  # 01:10 EST, an hour later
    assert quiet_until(first_pass, start=time(21), end=time(1, 30), tz=ny) == at(
        "2026-11-01 05:30"
    )
    assert quiet_until(second_pass, start=time(21), end=time(1, 30), tz=ny) == at(
        "2026-11-01 06:30"
    )


def test_a_skipped_calendar_day_defers_to_the_morning_after_it():
    """Samoa skipped 30 December 2011 when it crossed the date line."""
    until = quiet_until(
        at("2011-12-30 08:00"),  # 22:00 on 29 December, UTC-10
        tz=zone("Pacific/Apia"),
        **NIGHT,
    )
    local = until.astimezone(zone("Pacific/Apia"))
    assert (local.date().isoformat(), local.hour) == ("2011-12-31", 8)


def test_a_daytime_window_that_does_not_cross_midnight():
    tz = zone("Asia/Riyadh")
    assert quiet_until(at("2026-06-01 10:00"), start=time(13), end=time(16), tz=tz) == (
        at("2026-06-01 13:00")
    )
    assert quiet_until(at("2026-06-01 09:59"), start=time(13), end=time(16), tz=tz) is (
        None
    )


# -- through the real trigger path and outbox ----------------------------------


@pytest.mark.django_db
def test_an_sms_at_night_is_deferred_not_dropped_and_goes_in_the_morning(templates):
    rule = sms_quiet_hours()
    customer = customer_build("C-ny", time_zone="America/New_York")

    # 23:30 in New York on the eve of the fall-back change.
    dispatch = trigger(customer, scheduled_for=at("2026-11-01 03:30")).dispatches.get()

    assert dispatch.status == Dispatch.Status.QUEUED
    assert dispatch.due_at == at("2026-11-01 13:00")  # 08:00 EST
    (decision,) = dispatch.rule_decisions
    assert decision["rule"] == "SMS quiet hours"
    assert decision["version"] == rule.version
    assert decision["outcome"] == "deferred"
    assert decision["stage"] == "queue"
    assert "America/New_York" in decision["reason"]
    assert dispatches_claim(now=at("2026-11-01 12:59")) == []
    assert dispatches_claim(now=at("2026-11-01 13:00")) == [dispatch.pk]


@pytest.mark.django_db
def test_email_and_daytime_sms_are_untouched(templates, customer):
    sms_quiet_hours()
    noon = at("2026-06-01 12:00")

    sms = trigger(customer, scheduled_for=noon).dispatches.get()
    email = trigger(customer, channels=["email"], scheduled_for=at("2026-06-01 23:00"))

    assert sms.due_at == noon and sms.rule_decisions == []
    assert email.dispatches.get().rule_decisions == []


@pytest.mark.django_db
def test_a_mandatory_passcode_is_exempt_and_the_exemption_is_recorded(
    templates, customer
):
    sms_quiet_hours()
    night = at("2026-06-01 23:00")

    dispatch = trigger(
        customer, "one-time-passcode", scheduled_for=night
    ).dispatches.get()

    assert dispatch.due_at == night
    assert [d["outcome"] for d in dispatch.rule_decisions] == ["exempted"]
    assert "mandatory" in dispatch.rule_decisions[0]["reason"]


@pytest.mark.django_db
def test_the_due_recheck_defers_when_the_customer_moved_time_zone(templates):
    sms_quiet_hours()
    customer = customer_build("C-move", time_zone="Asia/Riyadh")
    # 12:00 in Riyadh: allowed when queued.
    dispatch = trigger(customer, scheduled_for=at("2026-06-01 09:00")).dispatches.get()
    assert dispatch.rule_decisions == []

    # The customer now lives in Kiritimati, where 09:00 UTC is 23:00.
    customer_build("C-move", time_zone="Pacific/Kiritimati")
    assert dispatches_claim(now=at("2026-06-01 09:00")) == []

    dispatch.refresh_from_db()
    assert dispatch.status == Dispatch.Status.QUEUED
    assert dispatch.due_at == at("2026-06-01 18:00")  # 08:00 the next local day
    (decision,) = dispatch.rule_decisions
    assert (decision["outcome"], decision["stage"]) == ("deferred", "due")
    from audit.models import AuditEvent

    event = AuditEvent.objects.get(action="rules.dispatch.deferred")
    assert event.object_id == str(dispatch.pk)
    assert dispatches_claim(now=at("2026-06-01 18:00")) == [dispatch.pk]


@pytest.mark.django_db
def test_a_retry_that_falls_at_night_is_deferred_again(templates, customer):
    sms_quiet_hours()
    dispatch = trigger(customer, scheduled_for=at("2026-06-01 20:59")).dispatches.get()
    assert dispatch.rule_decisions == []
    # Claimed only at 21:30 (the queue was long): now it is quiet.
    assert dispatches_claim(now=at("2026-06-01 21:30")) == []
    dispatch.refresh_from_db()
    assert dispatch.due_at == at("2026-06-02 08:00")
