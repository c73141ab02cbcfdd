from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0005_feedback_created_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="feedback",
            name="channel",
            field=models.CharField(
                default="", editable=False, max_length=16, verbose_name="channel"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="feedback",
            name="category",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="category"
            ),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="feedback",
            name="template_code",
            field=models.CharField(
                default="", editable=False, max_length=100, verbose_name="template"
            ),
            preserve_default=False,
        ),
    ]
