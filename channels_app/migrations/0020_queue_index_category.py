from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0019_dispatch_category_fill"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="dispatch",
            name="dispatch_channel_due_idx",
        ),
        migrations.AddIndex(
            model_name="dispatch",
            index=models.Index(
                condition=models.Q(("status", "queued")),
                fields=["channel", "due_at"],
                include=("attempt_count", "category"),
                name="dispatch_channel_due_idx",
            ),
        ),
    ]
