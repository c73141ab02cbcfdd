"""Thin Celery tasks: they call the outbox services and own only retry policy.

Beat runs one `outbox_pump` per channel and `outbox_sweep` every few seconds;
triggers also kick their channels' pumps on commit. Each channel's pump goes
to that channel's queue (ccm.celery.task_route), so a letter run on the
letters workers cannot hold up a passcode SMS. Several pumps at once are safe
(rows are claimed with SKIP LOCKED), so a second beat or a lost kick costs
nothing.
"""

import logging
import time
from collections.abc import Iterable

from celery import shared_task

from channels_app import incidents, outbox


@shared_task(name="channels.outbox_pump", acks_late=True, ignore_result=True)
def outbox_pump(channel: str | None = None) -> dict[str, int]:
    """Send due dispatches of `channel` (every channel if None) until none are
    due (bounded in time)."""
    return outbox.outbox_pump(channel=channel)


@shared_task(name="channels.queues_watch", acks_late=True, ignore_result=True)
def queues_watch() -> int:
    """Open an incident for each channel whose queue is stuck."""
    return len(incidents.queues_watch())


@shared_task(name="channels.outbox_sweep", acks_late=True, ignore_result=True)
def outbox_sweep() -> int:
    """Requeue dispatches whose worker died mid-send."""
    return outbox.dispatches_sweep()


# One kick a second per channel and process is enough: one pump drains
# everything due, and a kick per trigger would flood the broker in batch runs.
KICK_INTERVAL_SECONDS = 1.0
_last_kick: dict[str, float] = {}


def outbox_kick(channels: Iterable[str]) -> None:
    """Ask the workers of these channels to send now; beat's periodic pumps
    cover a lost kick."""
    now = time.monotonic()
    for channel in sorted(set(channels)):
        last = _last_kick.get(channel)
        if last is not None and now - last < KICK_INTERVAL_SECONDS:
            continue
        _last_kick[channel] = now
        try:
            outbox_pump.apply_async(kwargs={"channel": channel}, retry=False)
        except Exception:  # noqa: BLE001 (broker down: the database keeps the work)
            logging.getLogger(__name__).warning(
                "could not reach the broker to kick the %s outbox; beat's pump "
                "will send",
                channel,
            )


@shared_task(name="channels.intake_drain", acks_late=True, ignore_result=True)
def intake_drain() -> int:
    """Trigger the queued API triggers (`Prefer: respond-async`), chunk by chunk."""
    from channels_app import intake

    return intake.intakes_drain()


@shared_task(name="channels.batch_run", acks_late=True, ignore_result=True)
def batch_run(batch_id: int) -> None:
    """Process a batch's unprocessed rows; a second run of one batch is a no-op."""
    from channels_app import batches
    from channels_app.models import Batch

    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is not None:
        batches.batch_run(batch=batch)


@shared_task(name="channels.batches_resume", acks_late=True, ignore_result=True)
def batches_resume() -> list[int]:
    """Start again the batches whose run was lost or whose worker died."""
    from channels_app import batches

    return batches.batches_resume()
