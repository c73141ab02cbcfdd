from django.db import migrations

from ccm.roles import roles_sync
from console.indexes import search_indexes_create, search_indexes_drop


def indexes_forward(apps, schema_editor):
    search_indexes_create(schema_editor.connection)


def indexes_backward(apps, schema_editor):
    search_indexes_drop(schema_editor.connection)


class Migration(migrations.Migration):
    """Give Agents and Operators the console permissions; index customer search."""

    dependencies = [
        ("console", "0001_initial"),
        ("channels_app", "0002_roles"),
        ("ccm", "0002_roles"),
    ]

    operations = [
        migrations.RunPython(roles_sync, migrations.RunPython.noop),
        migrations.RunPython(indexes_forward, indexes_backward),
    ]
