"""Thin Celery tasks: they call the outbox services and own only retry policy.

Beat runs `outbox_pump` and `outbox_sweep` every few seconds; triggers also
kick a pump on commit. Several pumps at once are safe (rows are claimed with
SKIP LOCKED), so a second beat or a lost kick costs nothing.
"""

import logging
import time

from celery import shared_task

from channels_app import outbox


@shared_task(name="channels.outbox_pump", acks_late=True, ignore_result=True)
def outbox_pump() -> dict[str, int]:
    """Send due dispatches until none are due (bounded in time)."""
    return outbox.outbox_pump()


@shared_task(name="channels.outbox_sweep", acks_late=True, ignore_result=True)
def outbox_sweep() -> int:
    """Requeue dispatches whose worker died mid-send."""
    return outbox.dispatches_sweep()


# One kick a second per process is enough: one pump drains everything due, and
# a kick per trigger would flood the broker during batch runs.
KICK_INTERVAL_SECONDS = 1.0
_last_kick = [0.0]


def outbox_kick() -> None:
    """Ask a worker to send now; beat's periodic pump covers a lost kick."""
    now = time.monotonic()
    if now - _last_kick[0] < KICK_INTERVAL_SECONDS:
        return
    _last_kick[0] = now
    try:
        outbox_pump.apply_async(retry=False)
    except Exception:  # noqa: BLE001 (broker down: the database keeps the work)
        logging.getLogger(__name__).warning(
            "could not reach the broker to kick the outbox; beat's pump will send"
        )


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
