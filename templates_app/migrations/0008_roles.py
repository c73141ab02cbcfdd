from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Let Operators propose category changes and Reviewers approve them."""

    dependencies = [("templates_app", "0007_version_settings_required")]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
