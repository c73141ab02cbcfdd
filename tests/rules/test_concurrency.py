"""Two workers evaluating caps for one customer at once never both pass.

Each side runs in its own thread with its own PostgreSQL connection. The first
keeps its transaction open after the rules passed its dispatch; the second
starts meanwhile, must wait on the customer's row lock, and then sees the
first one's dispatch: without the lock both would count zero and both go.
"""

import threading
import time as clock
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from channels_app.models import Dispatch
from channels_app.outbox import dispatches_claim
from tests.factories import demo_templates_approved
from tests.rules.conftest import cap, customer_build, trigger

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOLD = 0.6


def _in_thread(target, results: dict, name: str):
    def run():
        try:
            results[name] = target()
        except Exception as exc:  # surfaced by the assertion below
            results[name] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_triggers_for_one_customer_at_once_pass_the_cap_only_once():
    demo_templates_approved()
    cap(1, 24)
    customer = customer_build("C-race")
    passed = threading.Event()
    results: dict = {}

    def first():
        with transaction.atomic():
            communication = trigger(customer)
            passed.set()
            clock.sleep(HOLD)  # a slow trigger: rendering, a big batch
        return communication.dispatches.get().status

    def second():
        passed.wait(10)
        started = clock.monotonic()
        communication = trigger(customer)
        return communication.dispatches.get().status, clock.monotonic() - started

    threads = [
        _in_thread(first, results, "first"),
        _in_thread(second, results, "second"),
    ]
    for thread in threads:
        thread.join(30)

    assert results["first"] == Dispatch.Status.QUEUED, results
    status, waited = results["second"]
    assert status == Dispatch.Status.SUPPRESSED
    assert waited >= HOLD * 0.8  # it waited for the first transaction


def test_two_workers_claiming_for_one_customer_at_once_send_only_within_the_cap():
    demo_templates_approved()
    customer = customer_build("C-claim")
    due = timezone.now() + timedelta(hours=1)
    first_dispatch = trigger(customer, scheduled_for=due).dispatches.get()
    second_dispatch = trigger(customer, scheduled_for=due).dispatches.get()
    cap(1, 24)  # in force from now: both were queued before it
    claimed = threading.Event()
    results: dict = {}

    def first():
        with transaction.atomic():
            ids = dispatches_claim(limit=1, now=due)
            claimed.set()
            clock.sleep(HOLD)
        return ids

    def second():
        claimed.wait(10)
        return dispatches_claim(limit=1, now=due)

    threads = [
        _in_thread(first, results, "first"),
        _in_thread(second, results, "second"),
    ]
    for thread in threads:
        thread.join(30)

    assert results["first"] == [first_dispatch.pk], results
    assert results["second"] == [], results
    second_dispatch.refresh_from_db()
    assert second_dispatch.status == Dispatch.Status.SUPPRESSED
    assert second_dispatch.rule_decisions[-1]["outcome"] == "capped"
