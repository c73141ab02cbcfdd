"""Two requests naming the same new customer at once: one creates, one updates.

Each side runs in its own thread with its own PostgreSQL connection. The
first creates the customer and keeps its transaction open; the second's
INSERT of the same external id waits on it, clashes once the first commits,
and then updates the row the first created instead of failing (an API
trigger answered 500 here).
"""

import threading

import pytest
from django.db import connection, connections, transaction

from customers.models import Customer
from customers.services import customer_upsert
from tests.processes import wait_until

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _blocked_on_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def test_the_same_new_customer_from_two_requests_at_once_is_created_once():
    created = threading.Event()
    release = threading.Event()
    results: dict = {}

    def run(name, body):
        try:
            results[name] = body()
        except Exception as exc:  # surfaced by the assertions below
            results[name] = exc
        finally:
            connections.close_all()

    def first():
        with transaction.atomic():
            customer, new = customer_upsert(
                external_id="C-RACE", name="Huda Al-Qahtani", email="huda@example.com"
            )
            created.set()
            release.wait(60)
        return new

    def second():
        created.wait(60)
        customer, new = customer_upsert(
            external_id="C-RACE", name="Huda Al-Qahtani", phone="+966501234567"
        )
        return new

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    try:
        wait_until(
            _blocked_on_a_lock,
            timeout=60,
            what="the second request waiting on the first one's new row",
        )
    finally:
        release.set()
        for thread in threads:
            thread.join(60)

    assert results == {"first": True, "second": False}
    customer = Customer.objects.get(external_id="C-RACE")
    assert (customer.email, customer.phone) == ("huda@example.com", "+966501234567")
    assert list(
        customer.history.order_by("history_id").values_list(
            "history_change_reason", flat=True
        )
    ) == ["created", "updated"]
