"""Correlation ids: one per request, one per task, carried from request to task."""

from types import SimpleNamespace

import pytest
from celery import shared_task
from django.http import HttpResponse
from django.test import RequestFactory

from audit.context import correlation, correlation_id_get
from audit.middleware import CorrelationIdMiddleware
from audit.services import event_record
from audit.tasking import (
    HEADER,
    _publish_with_correlation_id,
    _task_correlation_id_reset,
    _task_correlation_id_set,
)


def _serve(headers: dict) -> tuple[HttpResponse, str]:
    seen = {}

    def view(request):
        seen["id"] = correlation_id_get()
        return HttpResponse("ok")

    request = RequestFactory().get("/", headers=headers)
    response = CorrelationIdMiddleware(view)(request)
    return response, seen["id"]


def test_request_gets_a_fresh_correlation_id_echoed_in_the_response():
    response, inside = _serve({})
    assert len(inside) == 32
    assert response["X-Correlation-ID"] == inside
    assert correlation_id_get() == ""


def test_valid_incoming_correlation_id_is_kept():
    response, inside = _serve({"X-Correlation-ID": "gateway-7f3a:01"})
    assert inside == response["X-Correlation-ID"] == "gateway-7f3a:01"


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "<script>", "ü"])
def test_invalid_incoming_correlation_id_is_replaced(bad):
    response, inside = _serve({"X-Correlation-ID": bad})
    assert inside != bad
    assert response["X-Correlation-ID"] == inside


def test_publishing_a_task_carries_the_current_correlation_id():
    headers = {}
    with correlation("req-5"):
        _publish_with_correlation_id(headers=headers)
    assert headers[HEADER] == "req-5"


def test_task_runs_under_the_correlation_id_it_was_queued_with():
    task = SimpleNamespace(request=SimpleNamespace(**{HEADER: "req-5"}))
    _task_correlation_id_set(task_id="t1", task=task)
    assert correlation_id_get() == "req-5"
    _task_correlation_id_reset(task_id="t1")
    assert correlation_id_get() == ""


def test_task_queued_from_nowhere_gets_a_fresh_correlation_id():
    task = SimpleNamespace(request=SimpleNamespace(is_eager=False))
    _task_correlation_id_set(task_id="t2", task=task)
    assert len(correlation_id_get()) == 32
    _task_correlation_id_reset(task_id="t2")


@shared_task(name="tests.audit.record_sent")
def record_sent() -> str:
    return event_record(action="channels.dispatch.sent").correlation_id


@pytest.mark.django_db
def test_eager_task_records_under_its_callers_correlation_id():
    with correlation("req-8"):
        assert record_sent.apply().get() == "req-8"
    alone = record_sent.apply().get()
    assert len(alone) == 32
