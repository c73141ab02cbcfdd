"""The embedded stack of `make run` stays up: a process that dies comes back.

Real components: scripts/supervise with its own redis-server on a unix socket,
runserver, a Celery worker and beat, the test's database, and an SMTP server
on loopback.
"""

import os
import signal

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from ccm.roles import API_CLIENT
from tests.factories import user_build
from tests.processes import Stack, wait_until

# Generous: on a loaded 2-core machine the four processes take a while to start.
START_SECONDS = 240
SEND_SECONDS = 180

TRIGGER = {
    "template": "payment-reminder",
    "customer": {
        "external_id": "C-STACK-1",
        "name": "Fatimah Al-Harbi",
        "email": "fatimah.stack@example.com",
        "language": "en",
    },
    "data": {
        "customer": {"name": "Fatimah Al-Harbi"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
    },
    "data_source": {"system": "core-banking", "reference": "INV-STACK-1"},
    "channels": ["email"],
}


@pytest.fixture
def stack(tmp_path, smtp_sink, settings):
    running = Stack(
        tmp_path,
        EMAIL_HOST=settings.EMAIL_HOST,
        EMAIL_PORT=str(settings.EMAIL_PORT),
        HEARTBEAT_INTERVAL_SECONDS="1",
        HEARTBEAT_MAX_AGE_SECONDS="10",
        OUTBOX_PUMP_INTERVAL_SECONDS="1",
    )
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _token() -> str:
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    return Token.objects.create(user=system).key


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_with_sigkill_comes_back_and_sends_what_was_queued(
    stack, smtp_sink, demo_templates
):
    token = _token()

    wait_until(
        lambda: stack.get("/healthz")[0] == 200,
        timeout=START_SECONDS,
        what="the stack to report healthy",
        detail=stack.log_tail,
    )
    assert stack.get("/healthz/live") == (200, {"status": "ok"})
    assert stack.get("/healthz/ready")[0] == 200
    worker = stack.processes()["worker"]
    assert worker["running"] and worker["restarts"] == 0

    os.kill(worker["pid"], signal.SIGKILL)
    # Queued while the worker is dead: the web and the broker carry on.
    status, accepted = stack.post(
        "/api/v1/communications",
        TRIGGER,
        Authorization=f"Token {token}",
        **{"Idempotency-Key": "stack-1"},
    )
    assert status == 202, accepted

    def worker_back() -> bool:
        current = stack.processes().get("worker", {})
        return current.get("restarts") == 1 and current.get("running")

    wait_until(
        worker_back,
        timeout=START_SECONDS,
        what="the worker's restart",
        detail=stack.log_tail,
    )

    def sent() -> list:
        # The sink also receives the approval workflow's notifications.
        return [m for m in smtp_sink.messages if m["X-CCM-Dispatch"]]

    wait_until(
        sent,
        timeout=SEND_SECONDS,
        what="the queued email at the SMTP server",
        detail=stack.log_tail,
    )
    [message] = sent()
    assert message["To"] == "fatimah.stack@example.com"

    status, health = stack.get("/healthz")
    supervisor = health["supervisor"]
    assert supervisor["restarts"] == 1
    assert supervisor["last_failure"]["process"] == "worker"
    assert supervisor["last_failure"]["exit"] == "killed by SIGKILL"
    assert supervisor["last_failure"]["pid"] == worker["pid"]
    others = ("broker", "web", "beat")
    assert all(supervisor["processes"][name]["restarts"] == 0 for name in others)
    assert "killed by SIGKILL" in stack.log.read_text()
