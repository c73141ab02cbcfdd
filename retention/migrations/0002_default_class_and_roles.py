from django.db import migrations

from ccm.roles import roles_sync


def default_class_create(apps, schema_editor) -> None:
    """Keep everything ten years until operators set shorter periods."""
    retention_class = apps.get_model("retention", "RetentionClass")
    if not retention_class.objects.filter(category__isnull=True).exists():
        retention_class.objects.create(
            name="Default (10 years)",
            copies_days=3653,
            pdfs_days=3653,
            contacts_days=3653,
            snapshots_days=3653,
        )


class Migration(migrations.Migration):
    """Seed the default retention class; give the roles their retention rights."""

    dependencies = [
        ("retention", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(default_class_create, migrations.RunPython.noop),
        migrations.RunPython(roles_sync, migrations.RunPython.noop),
    ]
