"""A NUL character in a request's address or headers is a 400 naming where,
never a 500 (PostgreSQL refuses NUL in text; lookups by it failed there)."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.channels_app.test_bad_input import api  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "customers/a%00b",
        "customers/a%00b/preferences",
        "customers/a%00b/erasure",
        "customers/a%00b/export",
    ],
)
@pytest.mark.parametrize("method", ["get", "put", "post"])
def test_a_nul_in_an_api_path_is_a_400_naming_it(api, path, method):  # noqa: F811
    response = getattr(api, method)(
        f"/api/v1/{path}", {"name": "x"}, format="json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert response.status_code == 400, response.content[:300]
    (error,) = response.json()["detail"]
    assert error["code"] == "api.request.nul"
    assert "path" in error["message"]


def test_a_nul_in_an_idempotency_key_is_a_400(api):  # noqa: F811
    response = api.post(
        "/api/v1/communications", {}, format="json", HTTP_IDEMPOTENCY_KEY="k\x00"
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["detail"][0]["message"]


def test_a_nul_in_a_token_is_refused():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token a\x00b")

    assert client.get("/api/v1/batches/x").status_code == 400


def test_a_nul_in_a_console_query_is_a_400(agent_client):
    response = agent_client.get("/agent/?q=a%00b")

    assert response.status_code == 400
    assert "query" in response.content.decode()


@pytest.fixture
def agent_client():
    from ccm.roles import AGENT
    from tests.factories import user_build

    client = Client()
    client.force_login(user_build(username="aisha", role=AGENT))
    return client
