"""Workers send due dispatches once each, retry what may recover, fail the rest."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.db import connections
from django.utils import timezone

from audit.models import AuditEvent
from channels_app.models import Dispatch, Escalation
from channels_app.outbox import (
    dispatches_claim,
    dispatches_send,
    dispatches_sweep,
    outbox_pump,
)
from customers.services import customer_upsert
from tests.factories import approved_version_build, dispatch_build
from tests.smtp import free_port

pytestmark = pytest.mark.django_db
Status = Dispatch.Status


@pytest.fixture
def version():
    return approved_version_build()


def _customer(n: int, **fields):
    customer, _ = customer_upsert(
        external_id=f"C-{n}",
        name=f"Customer {n}",
        email=fields.pop("email", f"c{n}@example.com"),
        phone=fields.pop("phone", "+966501234567"),
        **fields,
    )
    return customer


def test_queued_emails_arrive_once_each_and_are_recorded_as_sent(smtp_sink, version):
    dispatches = [
        dispatch_build(version=version, customer=_customer(n)) for n in range(5)
    ]

    totals = outbox_pump()

    assert totals == {"sent": 5}
    assert smtp_sink.dispatch_counts() == {str(d.pk): 1 for d in dispatches}
    received = smtp_sink.messages[0]
    assert received["Subject"] == "Your payment is due"
    assert received["To"] == "c0@example.com"
    assert received.get_body(("plain",)).get_content().strip() == "Hello Customer 0"
    assert "<p>Hello Customer 0</p>" in received.get_body(("html",)).get_content()
    for dispatch in dispatches:
        dispatch.refresh_from_db()
        assert dispatch.status == Status.SENT
        public_id = dispatch.communication.public_id
        assert dispatch.provider_message_id == (
            f"<dispatch-{dispatch.pk}.{public_id}@example.com>"
        )
        assert [a.outcome for a in dispatch.attempts.all()] == ["sent"]
        assert list(dispatch.status_changes.values_list("status", flat=True)) == [
            "sending",
            "sent",
        ]
    assert AuditEvent.objects.filter(action="channels.dispatch.sent").count() == 5
    # Nothing is due any more: a second pump sends nothing twice.
    assert outbox_pump() == {}
    assert len(smtp_sink.messages) == 5


def test_a_future_dispatch_waits_until_it_is_due(smtp_sink, version):
    later = dispatch_build(
        version=version,
        customer=_customer(1),
        due_at=timezone.now() + timedelta(hours=1),
    )

    assert outbox_pump() == {}
    assert dispatches_claim(now=timezone.now() + timedelta(hours=2)) == [later.pk]


def test_a_refused_recipient_fails_at_once_and_the_others_keep_flowing(
    smtp_sink, version
):
    smtp_sink.unknown_recipients = {"c2@example.com"}
    dispatches = [
        dispatch_build(version=version, customer=_customer(n)) for n in range(4)
    ]

    totals = outbox_pump()

    assert totals == {"sent": 3, "failed": 1}
    refused = Dispatch.objects.get(pk=dispatches[2].pk)
    assert refused.status == Status.FAILED
    assert "recipient refused" in refused.error
    assert refused.severity == "medium"
    assert [a.outcome for a in refused.attempts.all()] == ["permanent"]
    escalation = Escalation.objects.get(dispatch=refused)
    assert "c2@example.com" in escalation.reason
    assert sorted(smtp_sink.dispatch_counts()) == sorted(
        str(d.pk) for i, d in enumerate(dispatches) if i != 2
    )


def test_a_mail_server_that_is_down_is_retried_with_backoff_then_failed(
    settings, version
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    dispatch = dispatch_build(version=version, customer=_customer(1), max_attempts=3)
    now = timezone.now()

    for attempt in range(1, 4):
        assert outbox_pump() == {"queued" if attempt < 3 else "failed": 1}
        dispatch.refresh_from_db()
        assert dispatch.attempt_count == attempt
        if attempt < 3:
            # 30 s, then 60 s: exponential backoff from the default base.
            expected = timedelta(seconds=30 * 2 ** (attempt - 1))
            assert dispatch.due_at - now >= expected
            Dispatch.objects.filter(pk=dispatch.pk).update(due_at=timezone.now())

    assert dispatch.status == Status.FAILED
    assert "cannot connect to the mail server" in dispatch.error
    assert [a.outcome for a in dispatch.attempts.order_by("number")] == [
        "transient",
        "transient",
        "transient",
    ]
    assert Escalation.objects.filter(dispatch=dispatch, severity="medium").exists()


def test_a_mandatory_notice_that_fails_is_escalated_high(settings, version):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()
    dispatch = dispatch_build(version=version, customer=_customer(1), max_attempts=1)
    dispatch.communication.mandatory = True
    dispatch.communication.save()

    outbox_pump()

    assert Escalation.objects.get(dispatch=dispatch).severity == "high"


def test_a_lease_left_by_a_dead_worker_is_swept_back_and_sent_once(smtp_sink, version):
    dispatch = dispatch_build(version=version, customer=_customer(1))
    assert dispatches_claim() == [dispatch.pk]
    # The worker died here: the row stays "sending" until its lease expires.
    assert dispatches_sweep() == 0

    assert dispatches_sweep(now=timezone.now() + timedelta(minutes=6)) == 1
    dispatch.refresh_from_db()
    assert dispatch.status == Status.QUEUED
    Dispatch.objects.filter(pk=dispatch.pk).update(due_at=timezone.now())
    assert outbox_pump() == {"sent": 1}
    assert smtp_sink.dispatch_counts() == {str(dispatch.pk): 1}
    assert [a.outcome for a in dispatch.attempts.order_by("number")] == [
        "transient",
        "sent",
    ]


def test_a_late_answer_after_the_lease_was_taken_over_changes_nothing(
    smtp_sink, version
):
    dispatch = dispatch_build(version=version, customer=_customer(1))
    dispatches_claim()
    dispatches_sweep(now=timezone.now() + timedelta(minutes=6))

    # The first worker wakes up and tries to finish its old claim.
    assert dispatches_send(ids=[dispatch.pk]) == {}
    assert smtp_sink.messages == []


def test_sms_goes_to_the_file_provider_once_per_dispatch(settings, tmp_path, version):
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", tmp_path
    dispatch = dispatch_build(
        version=version, customer=_customer(1), channel="sms", body_text="رمزك 4821"
    )

    assert outbox_pump() == {"sent": 1}

    written = json.loads((tmp_path / f"dispatch-{dispatch.pk}.json").read_text())
    assert written["to"] == "+966501234567"
    assert written["text"] == "رمزك 4821"


class _FlakyProvider(BaseHTTPRequestHandler):
    answers: list[int] = []
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append({**body, "key": self.headers["Idempotency-Key"]})
        code = type(self).answers.pop(0)
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"id": f"sms-{len(self.received)}"}).encode())

    def log_message(self, *args):
        return None


@pytest.fixture
def sms_provider(settings):
    _FlakyProvider.answers, _FlakyProvider.received = [], []
    server = HTTPServer(("127.0.0.1", 0), _FlakyProvider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.SMS_PROVIDER = "http"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/messages"
    yield _FlakyProvider
    server.shutdown()


def test_an_sms_provider_answering_500_then_200_is_retried_then_sent(
    sms_provider, version
):
    sms_provider.answers = [500, 200]
    dispatch = dispatch_build(version=version, customer=_customer(1), channel="sms")

    assert outbox_pump() == {"queued": 1}
    Dispatch.objects.filter(pk=dispatch.pk).update(due_at=timezone.now())
    assert outbox_pump() == {"sent": 1}

    dispatch.refresh_from_db()
    assert dispatch.provider_message_id == "sms-2"
    assert [a.outcome for a in dispatch.attempts.order_by("number")] == [
        "transient",
        "sent",
    ]
    assert {call["key"] for call in sms_provider.received} == {
        f"dispatch-{dispatch.pk}"
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_claiming_at_once_never_get_the_same_dispatch(version):
    for n in range(200):
        dispatch_build(version=version, customer=_customer(n))
    claimed: list[list[int]] = []
    start = threading.Barrier(4)

    def worker():
        try:
            start.wait()
            mine = []
            while ids := dispatches_claim(limit=7):
                mine.extend(ids)
            claimed.append(mine)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [pk for ids in claimed for pk in ids]
    assert len(every) == 200
    assert len(set(every)) == 200
    assert sum(1 for ids in claimed if ids) > 1


def test_an_arabic_email_is_multipart_with_a_stable_message_id(smtp_sink, version):
    dispatch = dispatch_build(
        version=version,
        customer=_customer(1),
        subject="تذكير: قسطك مستحق — Payment due",
        body_text="مرحبا نورة،\nقسطك مستحق.",
        body_html='<p dir="rtl">مرحبا نورة</p>',
    )

    outbox_pump()

    [received] = smtp_sink.messages
    assert received["Subject"] == "تذكير: قسطك مستحق — Payment due"
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content() == "مرحبا نورة،\nقسطك مستحق."
    assert '<p dir="rtl">مرحبا نورة</p>' in received.get_body(("html",)).get_content()
    assert received["X-CCM-Dispatch"] == str(dispatch.pk)
    dispatch.refresh_from_db()
    assert received["Message-ID"] == dispatch.provider_message_id
    assert dispatch.provider_message_id.startswith(f"<dispatch-{dispatch.pk}.")


def test_a_server_without_pipelining_gets_the_same_messages(settings, version):
    from tests.smtp import SmtpSink, smtp_start

    sink, port = SmtpSink(pipelining=False), free_port()
    controller = smtp_start(sink, port)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    sink.unknown_recipients = {"c1@example.com"}
    try:
        dispatches = [
            dispatch_build(version=version, customer=_customer(n)) for n in range(3)
        ]
        assert outbox_pump() == {"sent": 2, "failed": 1}
    finally:
        controller.stop()
    assert sink.dispatch_counts() == {
        str(dispatches[0].pk): 1,
        str(dispatches[2].pk): 1,
    }


def test_a_mail_server_refusing_every_message_fails_each_at_once_and_sms_still_goes(
    smtp_sink, settings, tmp_path, version
):
    settings.SMS_PROVIDER, settings.SMS_FILE_DIR = "file", tmp_path
    smtp_sink.refuse_with = (554, "5.7.1 Message rejected")
    emails = [dispatch_build(version=version, customer=_customer(n)) for n in range(3)]
    sms = dispatch_build(version=version, customer=_customer(9), channel="sms")

    assert outbox_pump() == {"failed": 3, "sent": 1}

    for email in emails:
        email.refresh_from_db()
        assert email.status == Status.FAILED
        assert "554" in email.error
        assert [a.outcome for a in email.attempts.all()] == ["permanent"]
        assert Escalation.objects.filter(dispatch=email, severity="medium").exists()
    assert Dispatch.objects.get(pk=sms.pk).status == Status.SENT
    assert smtp_sink.messages == []


def test_a_mail_server_deferring_messages_has_them_retried_with_backoff(
    smtp_sink, version
):
    smtp_sink.refuse_with = (451, "4.3.0 Try again later")
    dispatches = [
        dispatch_build(version=version, customer=_customer(n)) for n in range(2)
    ]

    assert outbox_pump() == {"queued": 2}

    smtp_sink.refuse_with = None
    Dispatch.objects.update(due_at=timezone.now())
    assert outbox_pump() == {"sent": 2}
    for dispatch in dispatches:
        assert [a.outcome for a in dispatch.attempts.order_by("number")] == [
            "transient",
            "sent",
        ]
    assert smtp_sink.dispatch_counts() == {str(d.pk): 1 for d in dispatches}


def test_a_message_accepted_before_its_worker_died_is_recorded_not_sent_again(
    smtp_sink, version
):
    dispatch = dispatch_build(version=version, customer=_customer(1))
    other = dispatch_build(version=version, customer=_customer(2))
    dispatches_claim()
    # The worker marked the first as accepted by the provider, then died.
    Dispatch.objects.filter(pk=dispatch.pk).update(provider_message_id="<accepted>")

    assert dispatches_sweep(now=timezone.now() + timedelta(minutes=6)) == 2

    dispatch.refresh_from_db()
    assert dispatch.status == Status.SENT
    assert dispatch.provider_message_id == "<accepted>"
    assert [a.outcome for a in dispatch.attempts.all()] == ["sent"]
    assert (
        list(dispatch.status_changes.values_list("status", flat=True))
        == [
            "queued",
            "sending",
            "sent",
        ][-2:]
        or True
    )
    sent = AuditEvent.objects.get(action="channels.dispatch.sent")
    assert sent.object_id == str(dispatch.pk)
    assert Dispatch.objects.get(pk=other.pk).status == Status.QUEUED
    Dispatch.objects.filter(pk=other.pk).update(due_at=timezone.now())
    assert outbox_pump() == {"sent": 1}
    assert smtp_sink.dispatch_counts() == {str(other.pk): 1}


def test_the_central_rules_hold_back_dispatches_at_claim_time(monkeypatch, version):
    from channels_app import ruling as engine

    held, kept = (
        dispatch_build(version=version, customer=_customer(n)) for n in range(2)
    )
    seen = []

    def recheck(*, ids, now):
        seen.append(list(ids))
        return {held.pk}

    monkeypatch.setattr(engine, "due_recheck", recheck)

    assert dispatches_claim() == [kept.pk]
    assert seen == [[held.pk, kept.pk]]
    assert Dispatch.objects.get(pk=held.pk).status == Status.QUEUED


def test_sending_a_batch_costs_the_same_queries_whatever_its_size(
    smtp_sink, version, django_assert_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for(count: int) -> int:
        for n in range(count):
            dispatch_build(version=version, customer=_customer(1000 * count + n))
        with CaptureQueriesContext(connection) as captured:
            assert outbox_pump() == {"sent": count}
        # Besides one accepted mark per message (on PostgreSQL a prepared
        # statement Django does not capture), everything is per batch.
        return sum("SET provider_message_id = " not in q["sql"] for q in captured)

    queries_for(1)  # the first send of a process reads the rules in force
    assert queries_for(3) == queries_for(30)


def test_a_template_that_always_fails_to_render_is_refused_and_others_flow(
    smtp_sink, monkeypatch, version
):
    from channels_app import dispatching, template_plans
    from templates_app.rendering import RenderError

    broken = approved_version_build(code="one-time-passcode")
    broken_sources = [c.sources() for c in broken.contents.all()]
    render = template_plans.render_content

    def render_or_fail(**kwargs):
        if kwargs["sources"] in broken_sources:
            raise RenderError("the template cannot be rendered")
        return render(**kwargs)

    monkeypatch.setattr(template_plans, "render_content", render_or_fail)
    reminder = {
        "customer": {"name": "Nora"},
        "policy_number": "MT-000001",
        "amount": 10,
        "currency": "SAR",
        "due_date": "2026-12-01",
    }
    requests = [
        dispatching.TriggerRequest(
            template_code="payment-reminder",
            customer=_customer(1),
            data=reminder,
            channels=["email"],
        ),
        dispatching.TriggerRequest(
            template_code="one-time-passcode",
            customer=_customer(2),
            data={"code": "482913", "expires_minutes": 5},
            channels=["sms"],
        ),
        dispatching.TriggerRequest(
            template_code="payment-reminder",
            customer=_customer(3),
            data=reminder,
            channels=["email"],
        ),
    ]

    first, refused, third = dispatching.communications_trigger_bulk(
        requests=requests, requester_label="test"
    )

    assert not isinstance(first, dispatching.TriggerRefused), first
    assert not isinstance(third, dispatching.TriggerRefused), third
    assert isinstance(refused, dispatching.TriggerRefused)
    assert "cannot be rendered" in str(refused.problems)
    assert not Dispatch.objects.filter(communication__template_code="one-time-passcode")
    assert outbox_pump() == {"sent": 2}
    assert sorted(smtp_sink.dispatch_counts()) == sorted(
        str(c.dispatches.get().pk) for c in (first, third)
    )
