"""A data-protection system erases and exports customers over the REST API."""

import pytest
from django.contrib.auth.models import Permission
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from subject_rights.models import ErasureRequest
from tests.factories import user_build
from tests.subject_rights.conftest import EMAIL, NAME

pytestmark = pytest.mark.django_db

BODY = {"reason": "Article 18 request by letter", "reference": "DSR-9"}


def _client(*codenames: str) -> APIClient:
    name = "-".join(["system", *codenames])
    system = user_build(username=name, is_staff=False)
    system.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")
    return client


def test_the_api_erases_once_and_replays_the_answer(subject):
    api = _client("add_erasurerequest")
    url = "/api/v1/customers/HQ-1/erasure"

    first = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="dsr-9")
    again = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="dsr-9")

    assert first.status_code == 201, first.content
    assert first.json()["status"] == "erased"
    assert first.json()["erased"]["dispatches"] == 3
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert ErasureRequest.objects.get().source == ErasureRequest.Source.API
    gone = api.post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="dsr-10")
    assert gone.status_code == 404
    assert "unknown customer" in gone.json()["customer"][0]


def test_the_api_refuses_a_client_without_the_permission_and_bad_input(subject):
    url = "/api/v1/customers/HQ-1/erasure"
    refused = _client().post(url, BODY, format="json", HTTP_IDEMPOTENCY_KEY="k")
    assert refused.status_code == 403

    api = _client("add_erasurerequest")
    missing = api.post(url, {"reason": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k2")
    assert missing.status_code == 400
    assert "reference" in missing.json()
    assert ErasureRequest.objects.count() == 0


def test_the_export_lists_what_is_held_in_json_and_pdf(subject):
    api = _client("export_subject_data")

    export = api.get("/api/v1/customers/HQ-1/export")
    pdf = api.get("/api/v1/customers/HQ-1/export", {"format": "pdf"})
    bad = api.get("/api/v1/customers/HQ-1/export", {"format": "xml"})

    assert export.status_code == 200
    body = export.json()
    assert body["customer"]["name"] == NAME
    assert body["customer"]["email"] == EMAIL
    assert len(body["communications"]) == 3
    assert body["contact_center"][0]["kind"] == "complaint"
    assert body["preferences"][0]["opted_in"] is False
    assert any(
        e["subject_label"].startswith(NAME) for e in body["audit_events"]["events"]
    )
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert bad.status_code == 400
    assert _client().get("/api/v1/customers/HQ-1/export").status_code == 403
