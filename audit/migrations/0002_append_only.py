"""Refuse UPDATE, DELETE (and TRUNCATE on PostgreSQL) on the audit event table.

One UPDATE is let through: the one Django issues when a user is deleted
(ON DELETE SET NULL), which only clears `actor_id`; the hash does not cover
the pointer, only the frozen actor label.
"""

from django.db import migrations

TABLE = "audit_auditevent"

POSTGRES_INSTALL = [
    f"""
    CREATE FUNCTION audit_event_refuse_change() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'UPDATE'
           AND OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL
           AND (to_jsonb(NEW) - 'actor_id') = (to_jsonb(OLD) - 'actor_id') THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION '{TABLE} is append-only: % refused', TG_OP;
    END;
    $$
    """,
    f"""
    CREATE FUNCTION audit_event_refuse_truncate() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{TABLE} is append-only: TRUNCATE refused';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER audit_event_no_update_delete
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION audit_event_refuse_change()
    """,
    f"""
    CREATE TRIGGER audit_event_no_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_refuse_truncate()
    """,
]

POSTGRES_REMOVE = [
    f"DROP TRIGGER IF EXISTS audit_event_no_truncate ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_event_no_update_delete ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_event_refuse_truncate()",
    "DROP FUNCTION IF EXISTS audit_event_refuse_change()",
]

SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
]


def sqlite_install(columns: list[str]) -> list[str]:
    unchanged = " AND ".join(
        f'NEW."{column}" IS OLD."{column}"' for column in columns if column != "actor_id"
    )
    return [
        f"""
        CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON {TABLE}
        WHEN NOT (
            OLD.actor_id IS NOT NULL AND NEW.actor_id IS NULL AND {unchanged}
        )
        BEGIN
            SELECT RAISE(ABORT, '{TABLE} is append-only: UPDATE refused');
        END
        """,
        f"""
        CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON {TABLE}
        BEGIN
            SELECT RAISE(ABORT, '{TABLE} is append-only: DELETE refused');
        END
        """,
    ]


def _execute(schema_editor, statements: list[str]) -> None:
    for statement in statements:
        schema_editor.execute(statement, params=None)


def triggers_install(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _execute(schema_editor, POSTGRES_INSTALL)
    elif vendor == "sqlite":
        event_model = apps.get_model("audit", "AuditEvent")
        columns = [field.column for field in event_model._meta.concrete_fields]
        _execute(schema_editor, sqlite_install(columns))


def triggers_remove(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        _execute(schema_editor, POSTGRES_REMOVE)
    elif vendor == "sqlite":
        _execute(schema_editor, SQLITE_REMOVE)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(triggers_install, triggers_remove)]
