"""Recorded events cannot be changed or removed: not by the ORM, not by raw SQL."""

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from audit.models import AuditEvent, AuditEventIsAppendOnly
from audit.services import event_record
from audit.verify import chain_verify

pytestmark = pytest.mark.django_db


def test_model_refuses_to_save_changes(chain):
    event = AuditEvent.objects.get(sequence=2)
    event.reason = "rewritten"
    with pytest.raises(AuditEventIsAppendOnly):
        event.save()
    assert AuditEvent.objects.get(sequence=2).reason == "ready for review"


def test_model_refuses_to_delete(chain):
    with pytest.raises(AuditEventIsAppendOnly):
        AuditEvent.objects.get(sequence=2).delete()
    assert AuditEvent.objects.count() == 6


def test_queryset_refuses_update_and_delete(chain):
    with pytest.raises(AuditEventIsAppendOnly):
        AuditEvent.objects.filter(sequence=2).update(reason="rewritten")
    with pytest.raises(AuditEventIsAppendOnly):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == 6


def _raw(sql: str) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # TRUNCATE waits for no deferred foreign-key checks: run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)


@pytest.mark.skipif(
    connection.vendor != "sqlite", reason="the SQLite triggers run on SQLite"
)
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten' WHERE sequence = 2",
        "UPDATE audit_auditevent SET actor_id = NULL, reason = 'x' WHERE sequence = 2",
        "DELETE FROM audit_auditevent WHERE sequence = 2",
    ],
    ids=["update", "update-with-actor", "delete"],
)
def test_sqlite_triggers_refuse_raw_update_and_delete(chain, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql)
    assert AuditEvent.objects.count() == 6
    assert chain_verify().ok


@pytest.mark.postgres
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE audit_auditevent SET reason = 'rewritten' WHERE sequence = 2",
        "UPDATE audit_auditevent SET actor_id = NULL, reason = 'x' WHERE sequence = 2",
        "DELETE FROM audit_auditevent WHERE sequence = 2",
        "TRUNCATE audit_auditevent CASCADE",
    ],
    ids=["update", "update-with-actor", "delete", "truncate"],
)
def test_postgres_triggers_refuse_raw_update_delete_and_truncate(chain, sql):
    with pytest.raises(DatabaseError, match="append-only"):
        _raw(sql)
    assert AuditEvent.objects.count() == 6
    assert chain_verify().ok


def test_clearing_a_deleted_users_pointer_is_allowed_and_keeps_the_chain(chain, author):
    # The exact statement Django's collector issues for on_delete=SET_NULL.
    AuditEvent._base_manager.filter(actor=author).update(actor=None)

    assert not AuditEvent.objects.filter(actor__isnull=False).exists()
    assert AuditEvent.objects.get(sequence=1).actor_label == "amal"
    assert chain_verify().ok


def test_deleting_the_actor_keeps_the_events(django_user_model):
    user = django_user_model.objects.create_user(username="leaver")
    event_record(action="auth.permission.revoked", actor=user)

    user.delete()

    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_label) == (None, "leaver")
    assert chain_verify().ok


@pytest.mark.django_db(transaction=True)
def test_flush_still_empties_the_audit_table_and_keeps_the_triggers():
    event_record(action="channels.dispatch.sent")
    call_command("flush", interactive=False, verbosity=0)
    assert not AuditEvent.objects.exists()

    event_record(action="channels.dispatch.sent")
    with pytest.raises(DatabaseError, match="append-only"):
        _raw("DELETE FROM audit_auditevent")
