"""Thin Celery tasks of template authoring."""

from celery import shared_task

from templates_app import services


@shared_task(name="templates.versions_supersede_due", ignore_result=True)
def versions_supersede_due() -> int:
    """Mark approved versions whose effective end has passed as superseded."""
    return services.versions_supersede_due()
