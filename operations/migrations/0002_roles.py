from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    """Give the roles the dashboard, pause and severity-policy permissions."""

    dependencies = [
        ("operations", "0001_initial"),
        ("channels_app", "0009_escalation_resolver_severity_policy"),
        ("console", "0005_feedback_created_index"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
