"""The daily retention run, sent by beat."""

from celery import shared_task

from retention.runs import RunInProgress, retention_run


@shared_task(name="retention.run")
def retention_run_task() -> int | None:
    """Run retention; return the run's id (None: another run was running)."""
    try:
        return retention_run().pk
    except RunInProgress:
        return None
