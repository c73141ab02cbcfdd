"""Each channel is pumped on its own queue: a letter run cannot hold up an SMS.

Real components: the broker of the test run, a Celery worker process that
serves only the `sms` queue, the test database and the SMS file backend.
"""

import pytest

from ccm.celery import app, task_route
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from channels_app.outbox import outbox_pump
from customers.services import customer_upsert
from tests.factories import approved_version_build, dispatch_build
from tests.processes import celery_worker_start, wait_until

Status = Dispatch.Status


def _customer(n: int):
    customer, _ = customer_upsert(
        external_id=f"Q-{n}",
        name=f"Customer {n}",
        email=f"q{n}@example.com",
        phone="+966501234567",
        postal_address="1 King Fahd Road\nRiyadh 12211",
    )
    return customer


@pytest.mark.django_db
def test_a_channel_pump_sends_its_channel_and_leaves_the_others_due(smtp_sink):
    version = approved_version_build()
    letters = [
        dispatch_build(version=version, customer=_customer(n), channel="letter")
        for n in range(30)
    ]
    emails = [dispatch_build(version=version, customer=_customer(n)) for n in (40, 41)]

    assert outbox_pump(channel="email") == {"sent": 2}

    assert smtp_sink.dispatch_counts() == {str(d.pk): 1 for d in emails}
    assert set(
        Dispatch.objects.filter(pk__in=[d.pk for d in letters]).values_list(
            "status", flat=True
        )
    ) == {Status.QUEUED}


def test_beat_pumps_every_channel_on_that_channel_s_queue():
    app.loader.import_default_modules()
    app.finalize()
    pumps = [
        entry
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == "channels.outbox_pump"
    ]
    queues = {
        entry["kwargs"]["channel"]: task_route(
            entry["task"], entry.get("args", ()), entry["kwargs"], {}
        )["queue"]
        for entry in pumps
    }
    assert queues == {"email": "email", "sms": "sms", "letter": "letters"}


@pytest.mark.django_db(transaction=True)
def test_an_sms_goes_out_while_a_letter_run_waits_for_its_own_workers(
    demo_templates,
):
    """Only an `sms` worker runs: the triggered passcode is sent at once, and
    none of the hundreds of letters due before it is touched."""
    version = approved_version_build()
    letters = [
        dispatch_build(version=version, customer=_customer(n), channel="letter")
        for n in range(300)
    ]
    worker = celery_worker_start("--queues=sms", name="sms-test")
    try:
        communication = communication_trigger(
            template_code="one-time-passcode",
            customer=_customer(999),
            data={"code": "482913", "expires_minutes": 5},
            channels=["sms"],
            requester_label="test",
        )
        sms = communication.dispatches.get()
        wait_until(
            lambda: Dispatch.objects.get(pk=sms.pk).status == Status.SENT,
            timeout=120,
            what="the passcode SMS sent by the sms worker",
        )
    finally:
        worker.terminate()
        output = worker.communicate(timeout=30)[0].decode(errors="replace")

    assert "Traceback" not in output, output[-3000:]
    assert set(
        Dispatch.objects.filter(pk__in=[d.pk for d in letters]).values_list(
            "status", flat=True
        )
    ) == {Status.QUEUED}
