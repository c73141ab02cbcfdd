from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Let Authors, Reviewers and Operators read the inventory; Operators run it."""

    dependencies = [
        ("inventory", "0001_initial"),
        ("templates_app", "0010_recertification"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
