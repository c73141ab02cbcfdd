from django.db import migrations

from console.indexes import search_indexes_create


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        # Digit trigrams are too common to index well at 1M customers.
        cursor.execute("DROP INDEX IF EXISTS console_customer_phone_trgm")
    search_indexes_create(connection)


class Migration(migrations.Migration):
    """Search digits and email starts with B-tree prefix and suffix indexes."""

    dependencies = [("console", "0002_roles_search_indexes")]

    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
