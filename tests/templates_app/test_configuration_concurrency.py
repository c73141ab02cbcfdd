"""Category change proposals under concurrency, on the real PostgreSQL.

Each side runs in its own thread with its own connection. The first holds its
transaction open after deciding; the second must wait on the category's row
lock and then see the first one's decision.
"""

import threading
import time as clock

import pytest
from django.db import connections, transaction

from audit.models import AuditEvent
from templates_app import categories, services
from templates_app.models import Category, CategoryChange
from tests.templates_app.test_configuration import steward

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

HOLD = 0.6


def _race(first, second) -> dict:
    """Run `first` (which signals `started` and holds) and then `second`."""
    results: dict = {}
    started = threading.Event()

    def run(name, target):
        try:
            results[name] = target(started)
        except Exception as exc:  # asserted below
            results[name] = exc
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_proposals_at_once_leave_one_open():
    category = categories.category_create(actor=None, code="claims", name="Claims")
    alice, bob = steward("alice"), steward("bob")

    def first(started):
        with transaction.atomic():
            change = categories.category_change_propose(
                category=category, actor=alice, kind="mandatory"
            )
            started.set()
            clock.sleep(HOLD)
        return change

    def second(started):
        started.wait(10)
        return categories.category_change_propose(
            category=category, actor=bob, kind="marketing"
        )

    results = _race(first, second)

    assert isinstance(results["first"], CategoryChange), results
    assert isinstance(results["second"], services.WorkflowRefused), results
    assert results["second"].rule == "state"
    assert CategoryChange.objects.filter(status="proposed").count() == 1


def test_two_approvers_at_once_apply_the_change_once():
    category = categories.category_create(actor=None, code="claims", name="Claims")
    change = categories.category_change_propose(
        category=category, actor=steward("alice"), kind="mandatory"
    )
    carol, dave = steward("carol", approve=True), steward("dave", approve=True)

    def first(started):
        with transaction.atomic():
            decided = categories.category_change_approve(change=change, actor=carol)
            started.set()
            clock.sleep(HOLD)
        return decided

    def second(started):
        started.wait(10)
        return categories.category_change_approve(change=change, actor=dave)

    results = _race(first, second)

    assert isinstance(results["first"], CategoryChange), results
    assert isinstance(results["second"], services.WorkflowRefused), results
    assert results["second"].rule == "state"
    assert Category.objects.get(pk=category.pk).kind == "mandatory"
    assert (
        AuditEvent.objects.filter(action="templates.category.change_approved").count()
        == 1
    )
