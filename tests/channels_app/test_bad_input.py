"""Whatever an API client or a CSV sends gets a 4xx naming the problem, never a 500."""

import json

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.models import Communication
from tests.factories import user_build

pytestmark = pytest.mark.django_db

BODY = {
    "template": "payment-reminder",
    "customer": {"external_id": "C-42", "name": "Fatimah", "email": "f@example.com"},
    "data": {
        "customer": {"name": "Fatimah Al-Harbi"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
    },
    "data_source": {"system": "core-banking", "reference": "INV-77"},
    "channels": "auto",
}


@pytest.fixture
def api(demo_templates):
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _send(api, text: str, *, path="/api/v1/communications", method="post"):
    return getattr(api, method)(
        path, text, content_type="application/json", HTTP_IDEMPOTENCY_KEY="k-1"
    )


def _with_data(**data) -> str:
    return json.dumps({**BODY, "data": {**BODY["data"], **data}})


def _problem(response) -> str:
    return json.dumps(response.json(), ensure_ascii=False)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_number_json_cannot_hold_is_refused(api, value):
    text = _with_data(amount=0).replace('"amount": 0', f'"amount": {value}')

    response = _send(api, text)

    assert response.status_code == 400, response.content
    assert "finite" in _problem(response)
    assert not Communication.objects.exists()


def test_a_lone_surrogate_is_refused(api):
    text = _with_data(currency="SAR").replace('"SAR"', '"\\ud800"')

    response = _send(api, text)

    assert response.status_code == 400, response.content
    assert "surrogate" in _problem(response)


def test_a_nul_in_a_data_key_is_refused(api):
    text = _with_data(**{"po\u0000licy": "x"})

    response = _send(api, text)

    assert response.status_code == 400, response.content
    assert "NUL" in _problem(response)


def test_json_nested_a_thousand_levels_is_refused(api):
    text = _with_data(deep=0).replace('"deep": 0', '"deep": ' + "[" * 1000 + "]" * 1000)

    response = _send(api, text)

    assert response.status_code == 400, response.content
    assert "nested" in _problem(response)


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_schedule_at_the_end_of_time_is_refused(api, when):
    response = _send(api, json.dumps({**BODY, "schedule": when}))

    assert response.status_code == 400, response.content
    assert "schedule" in response.json()
    assert not Communication.objects.exists()


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
def test_a_batch_scheduled_at_the_end_of_time_is_refused(api, when):
    body = {
        "template": "payment-reminder",
        "source_system": "core-banking",
        "schedule": when,
        "rows": [{"customer": BODY["customer"], "data": BODY["data"]}],
    }
    response = _send(api, json.dumps(body), path="/api/v1/batches")

    assert response.status_code == 400, response.content
    assert "schedule" in response.json()


@pytest.mark.parametrize("body", ["[]", '["x"]', '"text"', "3"])
def test_a_customer_upsert_that_is_not_an_object_is_refused(api, body):
    response = _send(api, body, path="/api/v1/customers/x", method="put")

    assert response.status_code == 400, response.content
    assert "object" in _problem(response)


def test_a_key_freed_by_a_refused_request_while_a_retry_arrives_is_not_a_500(api):
    """A retry that meets the key, then finds it freed, claims it and runs."""
    from django.contrib.auth.models import User
    from django.db import IntegrityError, connection

    from channels_app.models import IdempotencyRecord

    system = User.objects.get(username="core-banking")
    IdempotencyRecord.objects.create(client=system, key="k-1", request_sha256="x")
    state = {"clashed": False}

    def refused_request_frees_the_key(execute, sql, params, many, context):
        """Between the clash and the look-up, the first request gives up its key."""
        if state["clashed"] and "idempotencyrecord" in sql and sql.startswith("SELECT"):
            state["clashed"] = False
            IdempotencyRecord.objects.filter(key="k-1").delete()
        try:
            return execute(sql, params, many, context)
        except IntegrityError:
            state["clashed"] = "idempotencyrecord" in sql
            raise

    with connection.execute_wrapper(refused_request_frees_the_key):
        response = _send(api, json.dumps(BODY))

    assert response.status_code == 202, response.content
    assert Communication.objects.count() == 1
