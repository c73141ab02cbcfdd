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
