"""Carry the correlation id from the code that queues a task into the task.

A task runs under the correlation id of the request or task that queued it,
so that one action's events, web and worker alike, share one id; a task
queued from nowhere (beat, a shell) gets a fresh one.
"""

import contextlib

from celery import signals

from audit.context import (
    correlation_id_get,
    correlation_id_is_valid,
    correlation_id_new,
    correlation_id_reset,
    correlation_id_set,
)

HEADER = "audit_correlation_id"

_tokens: dict[str, object] = {}


def signals_connect() -> None:
    """Connect the Celery signal handlers, once however often it is called."""
    signals.before_task_publish.connect(
        _publish_with_correlation_id, weak=False, dispatch_uid="audit.publish"
    )
    signals.task_prerun.connect(
        _task_correlation_id_set, weak=False, dispatch_uid="audit.prerun"
    )
    signals.task_postrun.connect(
        _task_correlation_id_reset, weak=False, dispatch_uid="audit.postrun"
    )


def _publish_with_correlation_id(headers=None, **kwargs) -> None:
    correlation_id = correlation_id_get()
    if headers is not None and correlation_id:
        headers.setdefault(HEADER, correlation_id)


def _task_correlation_id_set(task_id=None, task=None, **kwargs) -> None:
    request = getattr(task, "request", None)
    incoming = getattr(request, HEADER, None) or ""
    if not incoming and getattr(request, "is_eager", False):
        # An eager task runs inside its caller: keep the caller's id.
        incoming = correlation_id_get()
    correlation_id = (
        incoming if correlation_id_is_valid(incoming) else correlation_id_new()
    )
    _tokens[task_id] = correlation_id_set(correlation_id)


def _task_correlation_id_reset(task_id=None, **kwargs) -> None:
    token = _tokens.pop(task_id, None)
    # A reset from another context (a pool thread) fails: the id dies with it.
    if token is not None:
        with contextlib.suppress(ValueError):
            correlation_id_reset(token)
