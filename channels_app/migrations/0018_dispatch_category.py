from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("channels_app", "0017_customer_name_refuses_bidi_controls"),
    ]

    operations = [
        migrations.AddField(
            model_name="dispatch",
            name="category",
            field=models.CharField(
                default="", editable=False, max_length=64, verbose_name="category"
            ),
            preserve_default=False,
        ),
    ]
