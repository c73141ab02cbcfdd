"""The Celery app, configured from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

app = Celery("ccm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.HEARTBEAT_INTERVAL_SECONDS,
        sender.signature("ccm.tasks.heartbeat"),
        name="heartbeat",
    )
    sender.add_periodic_task(
        settings.OUTBOX_PUMP_INTERVAL_SECONDS,
        sender.signature("channels.outbox_pump"),
        name="outbox pump",
    )
    sender.add_periodic_task(
        60.0,
        sender.signature("templates.versions_supersede_due"),
        name="supersede versions past their end",
    )
    sender.add_periodic_task(
        settings.OUTBOX_SWEEP_INTERVAL_SECONDS,
        sender.signature("channels.outbox_sweep"),
        name="outbox sweep",
    )
    sender.add_periodic_task(
        settings.BATCH_RESUME_INTERVAL_SECONDS,
        sender.signature("channels.batches_resume"),
        name="resume stalled batch runs",
    )
