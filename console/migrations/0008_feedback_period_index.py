from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0007_feedback_labels_fill"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="feedback",
            name="feedback_created_idx",
        ),
        migrations.AddIndex(
            model_name="feedback",
            index=models.Index(
                fields=["created"],
                include=("kind", "channel", "category", "template_code"),
                name="feedback_period_idx",
            ),
        ),
    ]
