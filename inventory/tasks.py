"""Thin Celery tasks of the inventory (housekeeping queue, ccm.celery.task_route)."""

from celery import shared_task
from django.contrib.auth import get_user_model

from inventory.analysis import inventory_analyse


@shared_task(name="inventory.analyse", ignore_result=True)
def analyse(threshold: float = 0.8, requested_by_id: int | None = None) -> int:
    """Analyse every template and block; return the run's id."""
    user = (
        get_user_model().objects.filter(pk=requested_by_id).first()
        if requested_by_id
        else None
    )
    return inventory_analyse(threshold=threshold, requested_by=user).pk
