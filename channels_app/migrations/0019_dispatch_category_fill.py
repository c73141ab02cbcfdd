"""Copy each dispatch's communication category onto it, in chunks.

Not atomic: every chunk commits on its own, so a large table is never locked
whole, and a run that stops half-way resumes where it stopped (only rows not
yet filled are written).
"""

from django.db import migrations
from django.db.models import Max, OuterRef, Subquery

CHUNK = 20_000


def dispatch_category_fill(apps, schema_editor):
    Dispatch = apps.get_model("channels_app", "Dispatch")
    Communication = apps.get_model("channels_app", "Communication")
    category = Communication.objects.filter(pk=OuterRef("communication_id")).values(
        "category"
    )[:1]
    last = Dispatch.objects.aggregate(last=Max("id"))["last"] or 0
    for start in range(0, last, CHUNK):
        Dispatch.objects.filter(
            id__gt=start, id__lte=start + CHUNK, category=""
        ).update(category=Subquery(category))


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("channels_app", "0018_dispatch_category"),
    ]

    operations = [
        migrations.RunPython(dispatch_category_fill, migrations.RunPython.noop),
    ]
