"""Copy each feedback's dispatch channel, category and template onto it, in chunks.

Not atomic: every chunk commits on its own, and a run that stops half-way
resumes where it stopped (only rows not yet filled are written).
"""

from django.db import migrations
from django.db.models import Max, OuterRef, Subquery

CHUNK = 20_000


def feedback_labels_fill(apps, schema_editor):
    Feedback = apps.get_model("console", "Feedback")
    Dispatch = apps.get_model("channels_app", "Dispatch")
    dispatch = Dispatch.objects.filter(pk=OuterRef("dispatch_id"))
    last = Feedback.objects.aggregate(last=Max("id"))["last"] or 0
    for start in range(0, last, CHUNK):
        Feedback.objects.filter(
            id__gt=start, id__lte=start + CHUNK, template_code=""
        ).update(
            channel=Subquery(dispatch.values("channel")[:1]),
            category=Subquery(dispatch.values("communication__category")[:1]),
            template_code=Subquery(
                dispatch.values("communication__template_code")[:1]
            ),
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("channels_app", "0018_dispatch_category"),
        ("console", "0006_feedback_labels"),
    ]

    operations = [
        migrations.RunPython(feedback_labels_fill, migrations.RunPython.noop),
    ]
