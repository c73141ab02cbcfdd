from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give Operators the incident permissions."""

    dependencies = [
        ("operations", "0002_roles"),
        ("channels_app", "0011_incidents"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
