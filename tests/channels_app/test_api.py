"""Upstream systems trigger communications over the REST API, exactly once per key."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.models import Communication, Customer, Dispatch
from tests.factories import demo_templates_approved, user_build

pytestmark = pytest.mark.django_db

BODY = {
    "template": "payment-reminder",
    "customer": {
        "external_id": "C-42",
        "name": "Fatimah Al-Harbi",
        "email": "fatimah@example.com",
        "phone": "0501234567",
        "language": "en",
    },
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
def api():
    demo_templates_approved()
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _post(api, body=BODY, key="key-1"):
    return api.post(
        "/api/v1/communications", body, format="json", HTTP_IDEMPOTENCY_KEY=key
    )


def test_a_trigger_is_accepted_with_its_id_and_status(api):
    response = _post(api)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "accepted"
    assert body["template"] == "payment-reminder"
    assert [d["channel"] for d in body["dispatches"]] == ["email"]
    assert Customer.objects.get(external_id="C-42").phone == "+966501234567"

    status = api.get(f"/api/v1/communications/{body['id']}")
    assert status.status_code == 200
    assert status.json()["dispatches"][0]["status"] == "queued"


def test_the_same_key_and_body_returns_the_stored_response(api):
    first = _post(api)
    again = _post(api)

    assert again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Communication.objects.count() == 1


def test_the_same_key_with_another_body_is_422(api):
    _post(api)

    response = _post(api, {**BODY, "channels": ["sms"]})

    assert response.status_code == 422
    assert "already used with another body" in response.json()["Idempotency-Key"][0]
    assert Dispatch.objects.count() == 1


def test_a_missing_idempotency_key_is_refused(api):
    response = api.post("/api/v1/communications", BODY, format="json")

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"template": "nope"}, "template", "unknown template"),
        ({"data": {"customer": {"name": "x"}}}, "data", "policy_number"),
        ({"channels": ["fax"]}, "channels", "auto"),
        (
            {"customer": {**BODY["customer"], "phone": "12"}},
            "customer",
            "is not a valid phone number",
        ),
        ({"customer": {"external_id": "C-unknown"}}, "customer", "unknown customer"),
    ],
)
def test_bad_input_gets_a_field_level_400_and_frees_the_key(
    api, change, field, fragment
):
    response = _post(api, {**BODY, **change})

    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    assert not Communication.objects.exists()
    # The key was not spent on a refused request.
    assert _post(api).status_code == 202


def test_unauthenticated_and_unauthorised_callers_are_refused(api):
    assert (
        APIClient().post("/api/v1/communications", BODY, format="json").status_code
        == 401
    )
    stranger = APIClient()
    token = Token.objects.create(user=user_build(username="x"))
    stranger.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert _post(stranger).status_code == 403


def test_the_openapi_schema_describes_the_trigger(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json")

    assert schema.status_code == 200
    assert "/api/v1/communications" in schema.json()["paths"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_hundred_calls_with_one_key_fifty_at_once_make_one_communication(api):
    token = api._credentials["HTTP_AUTHORIZATION"]
    codes: list[int] = []
    start = threading.Barrier(50)

    def call():
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=token)
            start.wait()
            codes.append(_post(client, key="same").status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes.extend(_post(api, key="same").status_code for _ in range(50))

    assert Communication.objects.count() == 1
    assert set(codes) <= {202, 409}
    assert codes.count(202) >= 51  # every call after the first finished replays
