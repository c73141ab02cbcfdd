"""Operators scrape /metrics with a token and see the outbox, errors and workers."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from ccm.health import heartbeat_record

pytestmark = pytest.mark.django_db

TOKEN = "scrape-" + "t" * 40


@pytest.fixture
def scraping(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_CACHE_SECONDS = 0


def _samples(client) -> dict[tuple, float]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_are_refused_without_the_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404

    settings.METRICS_TOKEN = TOKEN
    assert client.get("/metrics").status_code == 403
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 403


def test_metrics_count_dispatches_the_queue_errors_escalations_and_workers(
    client, scraping, demo_templates
):
    from channels_app.models import (
        Customer,
        Dispatch,
        DispatchAttempt,
        Escalation,
        Severity,
    )
    from tests.factories import approved_version_build, dispatch_build

    version = approved_version_build()
    customer = Customer.objects.create(
        external_id="M-1", name="Reem", email="reem@example.com"
    )
    now = timezone.now()
    waiting = dispatch_build(
        version=version, customer=customer, due_at=now - timedelta(minutes=2)
    )
    dispatch_build(version=version, customer=customer, due_at=now + timedelta(days=1))
    sent = dispatch_build(version=version, customer=customer, status="sent")
    for number, outcome, duration in ((1, "transient", 900), (2, "sent", 120)):
        DispatchAttempt.objects.create(
            dispatch=sent,
            number=number,
            started=now,
            duration_ms=duration,
            outcome=outcome,
        )
    Escalation.objects.create(dispatch=waiting, severity=Severity.HIGH, reason="x")
    heartbeat_record(name="worker")

    samples = _samples(client)

    for status, count in (("queued", 2), ("sent", 1)):
        labels = (("channel", "email"), ("status", status))
        assert samples[("ccm_dispatches", labels)] == count
    assert samples[("ccm_outbox_due", (("channel", "email"),))] == 1
    age = samples[("ccm_outbox_oldest_due_age_seconds", (("channel", "email"),))]
    assert 115 <= age < 600
    outcome = (("channel", "email"), ("outcome", "transient"))
    assert samples[("ccm_send_attempts_total", outcome)] == 1
    assert samples[("ccm_send_retries_total", (("channel", "email"),))] == 1
    p99 = (("channel", "email"), ("quantile", "0.99"))
    assert samples[("ccm_send_latency_seconds", p99)] == 0.9
    assert samples[("ccm_escalations_open", (("severity", "high"),))] == 1
    heartbeats = [
        value
        for (name, labels), value in samples.items()
        if name == "ccm_heartbeat_age_seconds" and ("name", "worker") in labels
    ]
    assert len(heartbeats) == 1 and heartbeats[0] < 60
    assert samples[("ccm_batch_rows_left", ())] == 0
    assert Dispatch.objects.count() == 3


def test_metrics_show_no_personal_data(client, scraping, demo_templates):
    from customers.models import Customer
    from tests.factories import approved_version_build, dispatch_build

    customer = Customer.objects.create(
        external_id="M-2", name="Fatimah Al-Harbi", email="fatimah@example.com"
    )
    dispatch_build(version=approved_version_build(), customer=customer)

    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content
    assert b"fatimah" not in text.lower()
    assert b"M-2" not in text
