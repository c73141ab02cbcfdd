"""The daily run erases exactly what expired, never what a hold covers, once."""

import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent
from audit.verify import chain_verify
from ccm.roles import RECORDS_MANAGER
from channels_app.models import Communication, ContentPart, Dispatch
from channels_app.outbox import outbox_pump
from customers.services import customer_upsert
from retention.holds import hold_place, hold_release
from retention.models import RetentionClass, RetentionRun
from retention.runs import retention_run
from templates_app.models import Category
from tests.factories import approved_version_build, dispatch_build, user_build

pytestmark = pytest.mark.django_db
OTP = "one-time-passcode"


def _otp_class() -> RetentionClass:
    return RetentionClass.objects.create(
        name="One-time passcodes",
        category=Category.objects.get(code="security"),
        copies_days=90,
        pdfs_days=90,
        snapshots_days=90,
        contacts_days=365,
    )


def _day(n: int):
    return Dispatch.objects.aggregate(last=Max("created"))["last"] + timedelta(days=n)


def _erasures() -> int:
    return AuditEvent.objects.filter(action="retention.dispatch.erased").count()


def test_a_run_at_day_91_erases_exactly_the_expired_content_and_nothing_held(
    channels_sent,
):
    expiring = channels_sent(1, code=OTP)
    held = channels_sent(2, code=OTP)
    statement = channels_sent(3)
    _otp_class()
    dpo = user_build(username="dpo", role=RECORDS_MANAGER)
    counsel = user_build(username="counsel", role=RECORDS_MANAGER)
    hold = hold_place(
        actor=dpo,
        scope="customer",
        customer=held["sms"].communication.customer,
        reason="Fraud investigation",
        reference="FR-88",
    )

    early = retention_run(now=_day(89))
    assert (early.dispatches, early.held) == (0, 0)

    run = retention_run(now=_day(91))

    assert run.status == RetentionRun.Status.DONE
    assert (run.dispatches, run.copies, run.pdfs, run.snapshots) == (3, 3, 1, 3)
    assert (run.contacts, run.held, run.busy) == (0, 3, 0)
    for dispatch in Dispatch.objects.filter(pk__in=[d.pk for d in expiring.values()]):
        assert dispatch.body_text == "" and not dispatch.letter_pdf
        assert dispatch.address, "contact data is kept 365 days"
        assert dispatch.erased(ContentPart.SNAPSHOT)
        assert dispatch.content_erased_cause == "retention"
    assert Communication.objects.get(pk=expiring["sms"].communication_id).data == {}
    for kept in (*held.values(), *statement.values()):
        fresh = Dispatch.objects.get(pk=kept.pk)
        assert fresh.body_text == kept.body_text and fresh.erased_parts == 0
    assert Communication.objects.get(pk=held["sms"].communication_id).data

    events = _erasures()
    again = retention_run(now=_day(91))
    assert (again.dispatches, again.copies, again.held) == (0, 0, 3)
    assert _erasures() == events

    hold_release(hold=hold, actor=counsel, reason="Investigation closed")
    after_release = retention_run(now=_day(92))
    assert (after_release.dispatches, after_release.held) == (3, 0)
    assert Dispatch.objects.get(pk=held["email"].pk).body_text == ""

    year = retention_run(now=_day(366))
    assert (year.dispatches, year.contacts) == (6, 6)
    assert Dispatch.objects.get(pk=expiring["email"].pk).address == ""
    assert Dispatch.objects.get(pk=statement["email"].pk).address
    assert retention_run(now=_day(366)).dispatches == 0
    assert chain_verify().ok
    finished = AuditEvent.objects.filter(action="retention.run.finished")
    assert finished.count() == RetentionRun.objects.count() == 6


def test_the_command_runs_retention_and_prints_the_counts(channels_sent, capsys):
    channels_sent(1, code=OTP)
    RetentionClass.objects.filter(category__isnull=True).update(copies_days=0)

    call_command("retention_run")

    out = capsys.readouterr().out
    assert "3 dispatches erased (copies 3" in out
    assert RetentionRun.objects.get().copies == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sending_goes_on_while_a_run_holds_its_chunk(channels_sent):
    """A run stalled mid-chunk, its rows locked, does not stop a send."""
    expired = channels_sent(1, code=OTP)
    _otp_class()
    stalled = threading.Event()
    release = threading.Event()
    runs: list = []

    def snapshot_locker():
        # Holds the communication row the run will erase, so the run waits
        # inside its chunk transaction with its dispatch rows locked.
        try:
            with transaction.atomic():
                Communication.objects.select_for_update().get(
                    pk=expired["sms"].communication_id
                )
                stalled.set()
                release.wait(60)
        finally:
            connections.close_all()

    def run():
        try:
            runs.append(retention_run(now=_day(91)))
        finally:
            connections.close_all()

    locker = threading.Thread(target=snapshot_locker)
    locker.start()
    assert stalled.wait(30)
    runner = threading.Thread(target=run)
    runner.start()
    try:
        with connection.cursor() as cursor:
            for _ in range(600):
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                if cursor.fetchone()[0]:
                    break
                release.wait(0.05)
            else:
                pytest.fail("the run never reached its chunk")
        assert RetentionRun.objects.get().status == RetentionRun.Status.RUNNING
        customer, _ = customer_upsert(
            external_id="NEW-1", name="Sara", phone="+966509999999"
        )
        fresh = dispatch_build(
            version=approved_version_build(code=OTP), customer=customer, channel="sms"
        )
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '5s'")
        try:
            assert outbox_pump() == {"sent": 1}
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SET lock_timeout = 0")
        fresh.refresh_from_db()
        assert fresh.status == Dispatch.Status.SENT
    finally:
        release.set()
        locker.join(30)
        runner.join(60)
    [finished] = runs
    # The run's clock is 91 days on: the fresh dispatch, once sent, expired too.
    assert finished.dispatches == 4
    assert finished.status == RetentionRun.Status.DONE


def test_beat_sends_the_retention_task_daily_and_the_task_runs_once_at_a_time(db):
    from ccm.celery import app
    from retention.tasks import retention_run_task

    app.finalize()
    [entry] = [
        entry
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == "retention.run"
    ]
    assert (entry["schedule"].hour, entry["schedule"].minute) == ({3}, {15})

    run_id = retention_run_task()
    assert RetentionRun.objects.get(pk=run_id).status == RetentionRun.Status.DONE
    RetentionRun.objects.create(as_of=timezone.now())
    assert retention_run_task() is None
