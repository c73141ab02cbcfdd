"""Periodic tasks of the project itself."""

from celery import shared_task

from ccm import health


@shared_task(name="ccm.tasks.heartbeat", acks_late=False)
def heartbeat() -> str:
    """Record that the scheduler and a worker are alive."""
    return health.heartbeat_record(name="worker").isoformat()
