from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give the records manager and operators their data subject rights."""

    dependencies = [
        ("subject_rights", "0001_initial"),
        ("retention", "0002_default_class_and_roles"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
