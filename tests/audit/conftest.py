"""Builders for audit chains, and a way to tamper with one behind its triggers."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection

from audit.models import AuditEvent
from audit.services import event_record

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def author(django_user_model):
    return django_user_model.objects.create_user(username="amal", password="x" * 12)


@pytest.fixture
def chain(author) -> list[AuditEvent]:
    """Six events of every shape: user and system actors, subjects, JSON states."""
    events = [
        event_record(action="templates.version.created", actor=author, subject=author),
        event_record(
            action="templates.version.submitted",
            actor=author,
            subject=author,
            before={"status": "draft"},
            after={"status": "in_review", "score": 1.0, "tags": ["a", "ب"]},
            reason="ready for review",
        ),
        event_record(action="channels.dispatch.queued", after={"count": 3}),
        event_record(
            action="channels.dispatch.sent",
            actor_kind=AuditEvent.ActorKind.API_CLIENT,
            actor_label="crm-sync",
            after={"provider_id": "m-1", "cost": 0.05},
        ),
        event_record(action="channels.dispatch.delivered", correlation_id="req-9"),
        event_record(action="auth.permission.granted", actor=author, subject=author),
    ]
    assert [event.sequence for event in events] == [1, 2, 3, 4, 5, 6]
    return events


@contextmanager
def triggers_lifted() -> Iterator:
    """Yield a cursor that may rewrite the audit table, as a tamperer would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no deferred foreign-key checks: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
            yield cursor
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = %s",
                [TABLE],
            )
            triggers = cursor.fetchall()
            for name, _sql in triggers:
                cursor.execute(f"DROP TRIGGER {name}")
            yield cursor
            for _name, sql in triggers:
                cursor.execute(sql)


def sequences_shift(cursor, *, start: int, by: int) -> None:
    """Renumber the events from `start` on by `by`, dodging the unique key."""
    cursor.execute(
        f"UPDATE {TABLE} SET sequence = sequence + 1000000 WHERE sequence >= %s",
        [start],
    )
    cursor.execute(
        f"UPDATE {TABLE} SET sequence = sequence - 1000000 + %s "
        "WHERE sequence >= 1000000",
        [by],
    )
