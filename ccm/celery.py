"""The Celery app, configured from Django settings (CELERY_* names)."""

import logging
import os
import socket
import time
import uuid

from celery import Celery
from celery.beat import PersistentScheduler
from celery.schedules import crontab
from celery.signals import task_postrun

from ccm.logs import celery_logging_connect
from ccm.warm import freeze_when_warm

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")

app = Celery("ccm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
logger = logging.getLogger(__name__)
# Workers and beat log as the web does (JSON lines in production).
celery_logging_connect()
# A warm worker process's long-lived objects out of the collector's way.
freeze_when_warm(task_postrun)


@app.on_after_finalize.connect
def _schedule_periodic_tasks(sender: Celery, **kwargs) -> None:
    from django.conf import settings

    sender.add_periodic_task(
        settings.HEARTBEAT_INTERVAL_SECONDS,
        sender.signature("ccm.tasks.heartbeat"),
        name="heartbeat",
    )
    for channel in CHANNEL_QUEUES:
        sender.add_periodic_task(
            settings.OUTBOX_PUMP_INTERVAL_SECONDS,
            sender.signature("channels.outbox_pump", kwargs={"channel": channel}),
            name=f"outbox pump: {channel}",
        )
    sender.add_periodic_task(
        60.0,
        sender.signature("templates.versions_supersede_due"),
        name="supersede versions past their end",
    )
    sender.add_periodic_task(
        settings.INTAKE_DRAIN_INTERVAL_SECONDS,
        sender.signature("channels.intake_drain"),
        name="trigger the queued API triggers",
    )
    sender.add_periodic_task(
        settings.OUTBOX_SWEEP_INTERVAL_SECONDS,
        sender.signature("channels.outbox_sweep"),
        name="outbox sweep",
    )
    sender.add_periodic_task(
        60.0,
        sender.signature("channels.queues_watch"),
        name="stuck queues open incidents",
    )
    sender.add_periodic_task(
        settings.BATCH_RESUME_INTERVAL_SECONDS,
        sender.signature("channels.batches_resume"),
        name="resume stalled batch runs",
    )
    sender.add_periodic_task(
        crontab(hour=2, minute=30),
        sender.signature("inventory.analyse"),
        name="template inventory, nightly",
    )
    sender.add_periodic_task(
        crontab(hour=3, minute=15),
        sender.signature("retention.run"),
        name="retention: erase what has expired, daily",
    )


# Periodic and bookkeeping work; everything else defaults to it too.
HOUSEKEEPING = "housekeeping"
CHANNEL_QUEUES = {"email": "email", "sms": "sms", "letter": "letters"}


def task_route(name, args, kwargs, options, task=None, **kw) -> dict | None:
    """Route a task to the queue of its kind of work (settings.CELERY_TASK_QUEUES).

    A channel's pump (`channel=` keyword; beat and the triggers send one per
    channel) goes to that channel's queue; a pump for every channel (a task
    queued by an older release, or sent by hand) goes to the email queue.
    """
    if name == "channels.outbox_pump":
        return {"queue": CHANNEL_QUEUES.get((kwargs or {}).get("channel"), "email")}
    return {"queue": HOUSEKEEPING}


class SingleBeatScheduler(PersistentScheduler):
    """Send periodic tasks only while this beat holds the lease in the database.

    Two beats (failover, or one started by mistake) never both send: the one
    without the lease sleeps and takes over once the holder has not renewed it
    for BEAT_LEASE_SECONDS. The holder renews every third of that and stops
    sending as soon as a renewal fails, so the two never overlap while the
    machines' clocks agree.
    """

    def __init__(self, *args, **kwargs) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease_valid_until = 0.0
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        if not self.lease_held():
            return 1.0
        return min(super().tick(*args, **kwargs), self.lease_seconds() / 3)

    def lease_seconds(self) -> int:
        from django.conf import settings

        return settings.BEAT_LEASE_SECONDS

    def lease_held(self) -> bool:
        now = time.monotonic()
        if now < self.lease_valid_until:
            return True
        from django.db import close_old_connections

        from ccm.health import lease_take

        held = False
        try:
            close_old_connections()
            held = lease_take(
                name="beat", owner=self.owner, seconds=self.lease_seconds()
            )
        except Exception:  # the database is down: send nothing until it is back
            logger.warning("beat could not reach the database for its lease")
        if held and not self.lease_valid_until:
            logger.info("beat %s holds the lease and sends periodic tasks", self.owner)
        elif not held and self.lease_valid_until:
            logger.warning("beat %s lost the lease; it stops sending", self.owner)
        self.lease_valid_until = now + self.lease_seconds() / 3 if held else 0.0
        return held
