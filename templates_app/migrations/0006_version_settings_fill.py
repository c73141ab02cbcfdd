"""Give every existing version the settings its template has today.

Versions submitted before this migration were approved without their settings
being part of the approval: they keep hash scheme 1 (content and pinned blocks),
so their stored content hash, the one their reviewers approved, still verifies.
Their settings are the template's at the time of the upgrade, and are frozen
from now on like those of every submitted version.
"""

from django.db import migrations


def settings_fill(apps, schema_editor):
    Template = apps.get_model("templates_app", "Template")
    TemplateVersion = apps.get_model("templates_app", "TemplateVersion")
    for template in Template.objects.all().iterator():
        TemplateVersion.objects.filter(template_id=template.pk).update(
            category_id=template.category_id,
            channels=template.channels,
            default_language=template.default_language,
            data_schema=template.data_schema,
            hash_scheme=1,
        )


class Migration(migrations.Migration):
    dependencies = [("templates_app", "0005_version_settings")]

    operations = [migrations.RunPython(settings_fill, migrations.RunPython.noop)]
