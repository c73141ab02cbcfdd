"""Tamper with the audit table behind its triggers, as someone with SQL access would."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


@contextmanager
def triggers_lifted() -> Iterator:
    """Yield a cursor that may rewrite the audit table, as a tamperer would."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # ALTER TABLE waits for no deferred foreign-key checks: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
            yield cursor
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        else:
            cursor.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'trigger' AND tbl_name = %s",
                ["audit_auditevent"],
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
        "UPDATE audit_auditevent SET sequence = sequence + 1000000 "
        "WHERE sequence >= %s",
        [start],
    )
    cursor.execute(
        "UPDATE audit_auditevent SET sequence = sequence - 1000000 + %s "
        "WHERE sequence >= 1000000",
        [by],
    )
