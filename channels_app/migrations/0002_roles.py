from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give the role groups the audit and channels permissions declared in ccm.roles."""

    dependencies = [
        ("channels_app", "0001_initial"),
        ("audit", "0002_append_only"),
        ("ccm", "0002_roles"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
