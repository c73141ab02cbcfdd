from django.db import migrations

from console.indexes import search_indexes_create


def forward(apps, schema_editor):
    search_indexes_create(schema_editor.connection)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS console_customer_name_prefix")


class Migration(migrations.Migration):
    """Find a full name from its start with a B-tree prefix index."""

    dependencies = [("console", "0003_search_by_digits")]

    operations = [migrations.RunPython(forward, backward)]
