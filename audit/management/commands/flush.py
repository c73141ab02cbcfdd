"""Django's flush, able to empty the append-only audit table.

Flush (used by `TransactionTestCase` between tests) removes every row of every
table, which the audit triggers refuse. This command lifts them for the flush
only, inside one transaction, so they are back whether the flush succeeds or
fails. Lifting them needs the rights of the table's owner on PostgreSQL.
"""

from django.core.management.commands import flush
from django.db import connections, transaction

from audit.models import AuditEvent


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        table = connection.ops.quote_name(AuditEvent._meta.db_table)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # ALTER TABLE refuses to run while foreign-key checks are pending.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # noqa: S608
                super().handle(**options)
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")  # noqa: S608
            elif connection.vendor == "sqlite":
                cursor.execute(
                    "SELECT name, sql FROM sqlite_master "
                    "WHERE type = 'trigger' AND tbl_name = %s",
                    [AuditEvent._meta.db_table],
                )
                triggers = cursor.fetchall()
                for name, _sql in triggers:
                    cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}")
                super().handle(**options)
                for _name, sql in triggers:
                    cursor.execute(sql)
            else:
                super().handle(**options)
