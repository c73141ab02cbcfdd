"""Upstream systems trigger communications over the REST API, exactly once per key."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.models import Communication, Dispatch
from customers.models import Customer
from tests.factories import user_build

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
def api(demo_templates):
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
    refused = response.json()["Idempotency-Key"][0]
    assert refused["code"] == "api.idempotency_key.reused"
    assert "already used with another body" in refused["message"]
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


def test_correlation_and_sequencing_fields_are_stored_and_shown(api):
    response = _post(
        api,
        {
            **BODY,
            "correlation_key": "MT-204518",
            "supersedes": ["payment-reminder"],
            "waits_for": ["one-time-passcode"],
        },
    )

    assert response.status_code == 202, response.json()
    communication = Communication.objects.get()
    assert communication.correlation_key == "MT-204518"
    assert communication.supersedes == ["payment-reminder"]
    assert communication.waits_for == ["one-time-passcode"]
    shown = api.get(f"/api/v1/communications/{response.json()['id']}").json()
    assert shown["correlation_key"] == "MT-204518"
    assert shown["supersedes"] == ["payment-reminder"]
    assert shown["waits_for"] == ["one-time-passcode"]
    assert shown["batch"] is None


def test_sequencing_on_an_unknown_template_is_a_field_level_400(api):
    response = _post(api, {**BODY, "supersedes": ["no-such-template"]})

    assert response.status_code == 400
    assert response.json()["supersedes"][0] == {
        "code": "trigger.template.unknown",
        "message": "unknown template 'no-such-template'",
    }
    assert not Communication.objects.exists()


# --- Batches -------------------------------------------------------------------

BATCH = {
    "template": "payment-reminder",
    "channels": "auto",
    "source_system": "core-banking",
    "rows": [
        {
            "customer": {
                "external_id": f"C-{n}",
                "name": f"Customer {n}",
                "email": f"c{n}@example.com",
            },
            "data": {**BODY["data"], "customer": {"name": f"Customer {n}"}},
            "source_reference": f"INV-{n}",
            "correlation_key": f"MT-{n}",
        }
        for n in range(3)
    ]
    + [{"customer": {"external_id": "C-unknown"}, "data": BODY["data"]}],
}


def _post_batch(api, body=BATCH, key="batch-1"):
    return api.post("/api/v1/batches", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_batch_is_accepted_with_a_progress_url_and_reports_its_outcome(api):
    from channels_app.batches import batch_run
    from channels_app.models import Batch

    response = _post_batch(api)

    assert response.status_code == 202, response.json()
    body = response.json()
    assert (body["status"], body["total"], body["processed"]) == ("pending", 4, 0)
    assert body["progress"].endswith(f"/api/v1/batches/{body['id']}")

    batch_run(batch=Batch.objects.get(public_id=body["id"]))
    progress = api.get(body["progress"]).json()

    assert progress["status"] == "done"
    assert (progress["processed"], progress["accepted"], progress["refused"]) == (
        4,
        3,
        1,
    )
    assert progress["problems"] == [
        {
            "row": 4,
            "line": None,
            "external_id": "C-unknown",
            "problems": {
                "customer": [
                    {
                        "code": "trigger.customer.unknown",
                        "message": "unknown customer 'C-unknown': give a name and "
                        "contact data to create it",
                        "params": {"id": "C-unknown"},
                    }
                ]
            },
        }
    ]
    communication = Communication.objects.get(source_reference="INV-1")
    assert communication.correlation_key == "MT-1"
    shown = api.get(f"/api/v1/communications/{communication.public_id}").json()
    assert shown["batch"] == body["id"]


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"template": "nope"}, "template", "unknown template"),
        ({"channels": ["letter"]}, "channels", "does not support Letter"),
        ({"channels": ["fax"]}, "channels", "auto"),
        ({"rows": []}, "rows", "at least one row"),
        ({"source_system": ""}, "source_system", "blank"),
    ],
)
def test_a_bad_batch_gets_a_field_level_400_and_stores_nothing(
    api, change, field, fragment
):
    from channels_app.models import Batch

    response = _post_batch(api, {**BATCH, **change})

    assert response.status_code == 400
    assert fragment in str(response.json()[field])
    assert not Batch.objects.exists()
    assert _post_batch(api).status_code == 202


def test_bad_rows_are_named_by_row_number_and_field(api):
    rows = [dict(row) for row in BATCH["rows"]]
    rows[1] = {**rows[1], "customer": {**rows[1]["customer"], "email": "nope"}}
    rows[2] = {**rows[2], "data": {**rows[2]["data"], "amount": -1}}

    response = _post_batch(api, {**BATCH, "rows": rows})

    assert response.status_code == 400
    problems = response.json()["rows"]
    assert problems["2"] == {
        "customer.email": [
            {"code": "invalid", "message": "'nope' is not an email address"}
        ]
    }
    assert list(problems["3"]) == ["data.amount"]


def test_too_many_rows_are_refused(api, settings):
    settings.BATCH_MAX_ROWS = 2

    response = _post_batch(api)

    assert response.status_code == 413
    (error,) = response.json()["rows"]
    assert error["code"] == "batch.rows.too_many"
    assert "more than 2" in error["message"]


def test_a_batch_post_is_idempotent_per_key(api):
    from channels_app.models import Batch, BatchRow

    first = _post_batch(api)
    again = _post_batch(api)
    other = _post_batch(api, {**BATCH, "source_system": "crm"})

    assert again.status_code == 202
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422
    assert Batch.objects.count() == 1 and BatchRow.objects.count() == 4


def test_another_client_cannot_read_a_batch(api):
    body = _post_batch(api).json()
    stranger = user_build(username="other-system", is_staff=False)
    stranger.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=stranger)}"
    )

    assert client.get(body["progress"]).status_code == 404


def test_the_openapi_schema_describes_batches(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/batches" in schema["paths"]
    assert "/api/v1/batches/{public_id}" in schema["paths"]
    trigger = schema["components"]["schemas"]["Trigger"]["properties"]
    assert {"correlation_key", "supersedes", "waits_for"} <= set(trigger)


def test_a_trigger_appends_its_customer_and_dispatch_events_together(api):
    from audit.models import AuditEvent

    body = _post(api).json()

    events = list(AuditEvent.objects.order_by("-sequence")[:2])[::-1]
    assert [e.action for e in events] == [
        "channels.customer.created",
        "channels.dispatch.queued",
    ]
    assert events[0].created == events[1].created  # one append
    assert events[1].after["communication"] == body["id"]
    # The stored answer is the one a replay returns and the status read shows.
    again = _post(api)
    assert again.json() == body
    read = api.get(f"/api/v1/communications/{body['id']}").json()
    assert read == body


def test_a_client_is_known_and_allowed_by_one_read_and_loses_access_at_once(api):
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels_app.api_access import TokenAuthentication

    token = Token.objects.get(user__username="core-banking")
    with CaptureQueriesContext(connection) as reads:
        user, _ = TokenAuthentication().authenticate_credentials(token.key)
    assert len(reads) == 1 and user.username == "core-banking"
    assert _post(api).status_code == 202

    # The group's permission taken away: refused on the next request.
    group = Group.objects.get(name=API_CLIENT)
    trigger = Permission.objects.get(codename="add_communication")
    group.permissions.remove(trigger)
    assert _post(api, key="key-2").status_code == 403
    # Held directly by the user: allowed again.
    user.user_permissions.add(trigger)
    assert _post(api, key="key-3").status_code == 202
    user.is_active = False
    user.save()
    assert _post(api, key="key-4").status_code == 401

    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert _post(wrong, key="key-5").status_code == 401
    root = APIClient()
    superuser = user_build(username="root", is_superuser=True)
    root.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=superuser)}")
    assert _post(root, key="key-6").status_code == 202
