"""Product systems record and read preferences over the REST API."""

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from channels_app.dispatching import communication_trigger
from customers.models import PreferenceEntry
from tests.console.conftest import renewal_data
from tests.factories import user_build

pytestmark = pytest.mark.django_db

URL = "/api/v1/customers/CUST-77001/preferences"
PAPERLESS = {
    "instructions": [{"channel": "letter", "opted_in": False}],
    "legal_basis": "consent",
    "source_system": "mobile-app",
}


@pytest.fixture
def api(demo_templates):
    system = user_build(username="mobile-app", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def _post(api, body=PAPERLESS, key="key-1", url=URL):
    return api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_paperless_from_the_app_is_recorded_read_back_and_stops_letters(api, customer):
    response = _post(api)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["paperless"]["all_products"] is True
    entry = PreferenceEntry.objects.get()
    assert (entry.source, entry.source_system, entry.legal_basis) == (
        "api",
        "mobile-app",
        "consent",
    )
    assert body["ledger"][0]["id"] == entry.pk
    read = api.get(URL).json()
    assert read["paperless"]["all_products"] is True
    assert read["categories"]["security"]["kind"] == "mandatory"
    letter = communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=renewal_data(customer),
        channels=["letter"],
        requester_label="policy-admin",
        scope="HM-1",
    ).dispatches.get()
    assert letter.status == "suppressed"
    assert letter.rule_decisions[-1]["ledger_entry"] == entry.pk


def test_paperless_for_one_product_and_opt_in_per_category(api, customer):
    body = {
        "instructions": [
            {"channel": "letter", "scope": "CARD-1234", "opted_in": False},
            {"channel": "sms", "category": "collections", "opted_in": False},
        ],
        "legal_basis": "consent",
        "source_system": "card-portal",
    }

    answer = _post(api, body).json()

    assert answer["paperless"] == {
        "all_products": False,
        "products": {"CARD-1234": True},
    }
    sms = answer["categories"]["collections"]["channels"]["sms"]
    assert sms["allowed"] is False
    assert sms["ledger_entry"] == PreferenceEntry.objects.get(channel="sms").pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**PAPERLESS, "legal_basis": "whim"}, "legal_basis"),
        ({**PAPERLESS, "source_system": ""}, "source_system"),
        ({**PAPERLESS, "instructions": []}, "instructions"),
        (
            {**PAPERLESS, "instructions": [{"channel": "fax", "opted_in": False}]},
            "instructions",
        ),
        ({**PAPERLESS, "instructions": [{"channel": "sms"}]}, "instructions"),
        (
            {
                **PAPERLESS,
                "instructions": [
                    {"channel": "sms", "category": "nope", "opted_in": True}
                ],
            },
            "instructions",
        ),
        ({"legal_basis": "consent", "source_system": "x"}, "instructions"),
    ],
)
def test_bad_input_is_a_field_level_400_and_frees_the_key(api, customer, body, field):
    response = _post(api, body)

    assert response.status_code == 400
    assert field in response.json()
    assert not PreferenceEntry.objects.exists()
    assert _post(api).status_code == 201, "the key was freed"


def test_a_body_that_is_not_an_object_and_an_unknown_customer(api, customer):
    assert _post(api, ["x"]).status_code == 400
    assert (
        _post(api, key="k2", url="/api/v1/customers/NOPE/preferences").status_code
        == 404
    )
    assert api.get("/api/v1/customers/NOPE/preferences").status_code == 404


def test_a_replay_returns_the_stored_answer_and_records_nothing_more(api, customer):
    first = _post(api)
    again = _post(api)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert PreferenceEntry.objects.count() == 1
    assert _post(api, {**PAPERLESS, "note": "other"}).status_code == 422


def test_callers_without_the_api_role_are_refused(customer, db):
    assert APIClient().get(URL).status_code in (401, 403)


def test_the_openapi_schema_documents_the_preference_api(api):
    schema = api.get("/api/v1/schema", HTTP_ACCEPT="application/json").json()

    operations = schema["paths"]["/api/v1/customers/{external_id}/preferences"]
    assert {"get", "post"} <= set(operations)
    assert any(p["name"] == "Idempotency-Key" for p in operations["post"]["parameters"])


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_fifty_requests_at_once_with_one_key_make_one_ledger_entry(api, customer):
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

    assert PreferenceEntry.objects.count() == 1
    assert set(codes) <= {201, 409}
    assert codes.count(201) >= 1
    assert _post(api, key="same").status_code == 201
    assert PreferenceEntry.objects.count() == 1
