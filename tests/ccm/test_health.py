"""/healthz tells operators whether the database, broker and worker are alive."""

from datetime import timedelta

import pytest
from django.utils import timezone

from ccm.celery import app as celery_app
from ccm.health import heartbeat_record
from ccm.models import Heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def broken_broker():
    """Point the Celery app at a port where nothing listens."""
    keys = ("broker_url", "broker_write_url")
    original = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.update(dict.fromkeys(keys, "redis://127.0.0.1:1/0"))
    try:
        yield
    finally:
        celery_app.conf.update(original)


def test_healthz_is_200_with_a_fresh_heartbeat(client):
    heartbeat_record(name="worker")

    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["failing"] == []
    assert body["database"]["ok"] and body["broker"]["ok"] and body["worker"]["ok"]
    assert body["worker"]["age_seconds"] < 60


def test_healthz_is_503_naming_the_worker_without_heartbeat(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert "no heartbeat" in body["worker"]["error"]


def test_healthz_is_503_naming_the_worker_when_heartbeat_is_stale(client):
    Heartbeat.objects.create(
        name="worker", last_seen=timezone.now() - timedelta(minutes=5)
    )

    body = client.get("/healthz").json()

    assert body["failing"] == ["worker"]
    assert "older than" in body["worker"]["error"]


def test_healthz_is_503_naming_the_broker_when_it_is_down(client, broken_broker):
    heartbeat_record(name="worker")

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["broker"]["transport"] == "redis"
    assert "Error" in body["broker"]["error"]


def test_liveness_answers_without_looking_at_the_other_parts(client, broken_broker):
    response = client.get("/healthz/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_needs_the_database_not_the_worker_or_the_broker(
    client, broken_broker
):
    response = client.get("/healthz/ready")

    assert response.status_code == 200
    assert response.json()["failing"] == []
    assert response.json()["database"]["ok"]


def _supervisor_state(settings, *, pid: int) -> None:
    import json

    (settings.VAR_DIR / "supervisor.json").write_text(
        json.dumps(
            {
                "supervisor_pid": pid,
                "processes": {
                    "web": {"pid": 11, "running": True, "restarts": 0},
                    "worker": {
                        "pid": 13,
                        "running": True,
                        "restarts": 2,
                        "last_failure": {
                            "at": "2026-12-06T12:04:31+0000",
                            "pid": 12,
                            "exit": "killed by SIGKILL",
                            "ran_seconds": 734.2,
                        },
                    },
                    "beat": {
                        "pid": 14,
                        "running": True,
                        "restarts": 1,
                        "last_failure": {
                            "at": "2026-12-06T09:00:00+0000",
                            "pid": 9,
                            "exit": "exited with status 1",
                            "ran_seconds": 3.0,
                        },
                    },
                },
            }
        )
    )


def test_healthz_shows_the_restarts_and_last_failure_of_the_supervised_stack(
    client, settings, tmp_path
):
    import os

    settings.VAR_DIR = tmp_path
    _supervisor_state(settings, pid=os.getpid())
    heartbeat_record(name="worker")

    supervisor = client.get("/healthz").json()["supervisor"]

    assert supervisor["restarts"] == 3
    assert supervisor["last_failure"] == {
        "process": "worker",
        "at": "2026-12-06T12:04:31+0000",
        "pid": 12,
        "exit": "killed by SIGKILL",
        "ran_seconds": 734.2,
    }
    assert supervisor["processes"]["worker"]["pid"] == 13


def test_healthz_leaves_out_a_supervisor_that_is_gone(client, settings, tmp_path):
    import subprocess
    import sys

    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    settings.VAR_DIR = tmp_path
    _supervisor_state(settings, pid=int(gone.stdout))

    assert "supervisor" not in client.get("/healthz").json()
