from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give the Operator role the rule permissions declared in ccm.roles."""

    dependencies = [
        ("rules", "0001_initial"),
        ("ccm", "0002_roles"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
