from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give the role groups the template permissions declared in ccm.roles."""

    dependencies = [
        ("templates_app", "0001_initial"),
        ("ccm", "0002_roles"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
