"""Pause switches hold a template's, category's, channel's or batch's due
dispatches (queued, unclaimed, never cancelled) until an operator resumes."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.utils import timezone

from audit.models import AuditEvent
from channels_app.models import Batch, Communication, Dispatch, DispatchStatusChange
from channels_app.outbox import dispatches_claim, outbox_pump
from channels_app.pauses import held_counts, hold_reason, pause_resume, pause_start
from customers.services import customer_upsert
from tests.factories import approved_version_build, dispatch_build, user_build
from tests.processes import wait_until

Status = Dispatch.Status


def _customer(n: int):
    customer, _ = customer_upsert(
        external_id=f"P-{n}",
        name=f"Customer {n}",
        email=f"p{n}@example.com",
        phone="+966501234567",
        postal_address="1 King Fahd Road\nRiyadh 12211",
    )
    return customer


@pytest.fixture
def operator(db):
    return user_build(username="op", role="Operator")


@pytest.mark.django_db
def test_a_pause_needs_a_reason_and_something_that_exists(operator):
    approved_version_build()
    with pytest.raises(ValidationError, match="reason"):
        pause_start(
            scope="template", value="payment-reminder", reason=" ", actor=operator
        )
    with pytest.raises(ValidationError, match="no Template nope"):
        pause_start(scope="template", value="nope", reason="wrong", actor=operator)
    with pytest.raises(ValidationError, match="no Channel fax"):
        pause_start(scope="channel", value="fax", reason="wrong", actor=operator)
    with pytest.raises(ValidationError, match="no Batch run 99"):
        pause_start(scope="batch", value="99", reason="wrong", actor=operator)
    pause_start(
        scope="template", value="payment-reminder", reason="typo", actor=operator
    )
    with pytest.raises(ValidationError, match="already paused"):
        pause_start(
            scope="template", value="payment-reminder", reason="again", actor=operator
        )


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["template", "category", "channel", "batch"])
def test_each_kind_of_pause_holds_its_dispatches_and_resume_releases_them(
    scope, operator
):
    version = approved_version_build()
    other = approved_version_build(code="one-time-passcode")
    held = dispatch_build(version=version, customer=_customer(1))
    free = dispatch_build(version=other, customer=_customer(2), channel="sms")
    communication = held.communication
    batch = Batch.objects.create(
        template_code=version.template.code, requester_label="t"
    )
    Communication.objects.filter(pk=communication.pk).update(batch=batch)
    value = {
        "template": version.template.code,
        "category": version.template.category.code,
        "channel": "email",
        "batch": str(batch.pk),
    }[scope]

    pause = pause_start(scope=scope, value=value, reason="wrong amount", actor=operator)

    assert dispatches_claim(limit=10) == [free.pk]
    held.refresh_from_db()
    assert held.status == Status.QUEUED
    assert "wrong amount" in hold_reason(held)
    assert held_counts() == {pause.pk: 1}

    pause_resume(pause=pause, actor=operator, reason="fixed")

    assert dispatches_claim(limit=10) == [held.pk]
    assert list(
        AuditEvent.objects.filter(action__startswith="channels.pause.")
        .order_by("sequence")
        .values_list("action", "reason")
    ) == [
        ("channels.pause.started", "wrong amount"),
        ("channels.pause.resumed", "fixed"),
    ]
    with pytest.raises(ValidationError, match="already resumed"):
        pause_resume(pause=pause, actor=operator)


def _run_build(version, other, n: int) -> tuple[list[int], list[int]]:
    """Queue `n` emails of `version` and `n // 5` of `other`, due now."""
    customers = [_customer(i) for i in range(20)]
    paused, flowing = [], []
    for i in range(n + n // 5):
        v = version if i < n else other
        dispatch = dispatch_build(version=v, customer=customers[i % 20])
        (paused if i < n else flowing).append(dispatch.pk)
    return paused, flowing


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_template_paused_half_way_through_1000_is_sent_exactly_once_and_not_during_the_pause(  # noqa: E501
    smtp_sink,
):
    """A pump keeps running in another thread the whole time: once half the
    run is out the template is paused; no dispatch of it is claimed until it
    is resumed (the other template keeps flowing), then every one goes once."""
    version = approved_version_build()
    other = approved_version_build(code="policy-renewal-letter")
    operator = user_build(username="op", role="Operator")
    paused_ids, flowing_ids = _run_build(version, other, 1000)
    # The other template is due later: it flows during the pause.
    stop = threading.Event()
    passes = [0]
    errors: list[BaseException] = []

    def pump():
        try:
            while not stop.is_set():
                outbox_pump(batch=40, seconds=1, channel="email")
                passes[0] += 1
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            errors.append(exc)
        finally:
            connections.close_all()

    def sent(ids) -> int:
        return Dispatch.objects.filter(pk__in=ids, status=Status.SENT).count()

    thread = threading.Thread(target=pump)
    thread.start()
    try:
        wait_until(lambda: sent(paused_ids) >= 500, timeout=120, what="half the run")
        pause = pause_start(
            scope="template",
            value=version.template.code,
            reason="wrong amount in the copy",
            actor=operator,
        )
        paused_at = timezone.now()
        at_pause = sent(paused_ids)
        assert at_pause < 1000, "the run finished before the pause"
        # The pump goes on: the rest of the queue (the other template) drains.
        wait_until(
            lambda: sent(flowing_ids) == len(flowing_ids),
            timeout=120,
            what="the other template to flow during the pause",
        )
        seen = passes[0]
        wait_until(lambda: passes[0] >= seen + 3, timeout=60, what="more pump passes")
        resumed_at = timezone.now()
        held = Dispatch.objects.filter(pk__in=paused_ids, status=Status.QUEUED)
        assert held.count() == 1000 - sent(paused_ids)
        assert held.count() > 0
        assert "wrong amount in the copy" in hold_reason(held.first())
        pause_resume(pause=pause, actor=operator, reason="copy fixed")
        wait_until(
            lambda: sent(paused_ids) == 1000, timeout=180, what="the rest of the run"
        )
    finally:
        stop.set()
        thread.join()
    assert not errors, errors

    claimed_during_pause = DispatchStatusChange.objects.filter(
        dispatch_id__in=paused_ids,
        status=Status.SENDING,
        at__gt=paused_at,
        at__lt=resumed_at,
    )
    assert claimed_during_pause.count() == 0
    counts = smtp_sink.dispatch_counts()
    assert {pk: counts[str(pk)] for pk in paused_ids + flowing_ids} == dict.fromkeys(
        paused_ids + flowing_ids, 1
    )
    assert (
        Dispatch.objects.filter(pk__in=paused_ids, status=Status.CANCELLED).count() == 0
    )


@pytest.mark.django_db
def test_a_held_dispatch_s_admin_page_says_which_pause_holds_it(client, operator):
    version = approved_version_build()
    held = dispatch_build(version=version, customer=_customer(1))
    pause_start(
        scope="template",
        value="payment-reminder",
        reason="wrong amount",
        actor=operator,
    )
    client.force_login(operator)
    page = client.get(f"/admin/channels_app/dispatch/{held.pk}/change/")
    assert "Held: Template payment-reminder paused by op: wrong amount" in (
        page.content.decode()
    )
