"""Thin Celery tasks: they call the outbox services and own only retry policy.

Beat runs `outbox_pump` and `outbox_sweep` every few seconds; triggers also
kick a pump on commit. Several pumps at once are safe (rows are claimed with
SKIP LOCKED), so a second beat or a lost kick costs nothing.
"""

import logging

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


def outbox_kick() -> None:
    """Ask a worker to send now; beat's periodic pump covers a lost kick."""
    try:
        outbox_pump.apply_async(retry=False)
    except Exception:  # noqa: BLE001 (broker down: the database keeps the work)
        logging.getLogger(__name__).warning(
            "could not reach the broker to kick the outbox; beat's pump will send"
        )
