from django.db import migrations

from ccm.roles import roles_sync


class Migration(migrations.Migration):
    dependencies = [
        ("ccm", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(roles_sync, migrations.RunPython.noop)]
