"""The API's schema and Swagger page are read by client systems and staff only."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from ccm.roles import API_CLIENT
from tests.factories import user_build

pytestmark = pytest.mark.django_db

PAGES = ["/api/v1/schema", "/api/v1/docs"]


@pytest.mark.parametrize("url", PAGES)
def test_an_anonymous_visitor_cannot_read_the_api_docs(url):
    response = Client().get(url)

    assert response.status_code in (401, 403)
    assert b"/api/v1/communications" not in response.content


@pytest.mark.parametrize("url", PAGES)
def test_a_signed_in_user_who_is_not_staff_cannot_read_them(url):
    client = Client()
    client.force_login(user_build(username="someone", is_staff=False))

    assert client.get(url).status_code == 403


def test_a_client_system_reads_the_schema_with_its_token():
    system = user_build(username="core-banking", is_staff=False)
    system.groups.add(Group.objects.get(name=API_CLIENT))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")

    response = client.get("/api/v1/schema", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert "/api/v1/communications" in response.json()["paths"]


@pytest.mark.parametrize("url", PAGES)
def test_signed_in_staff_read_the_schema_and_the_swagger_page(url):
    client = Client()
    client.force_login(user_build(username="staff"))

    assert client.get(url).status_code == 200


@pytest.mark.parametrize(
    ("access", "anonymous", "token"), [("public", 200, 200), ("staff", 401, 403)]
)
def test_the_access_is_a_setting(settings, access, anonymous, token):
    settings.API_DOCS_ACCESS = access
    system = user_build(username="core-banking", is_staff=False)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=system)}")

    assert Client().get("/api/v1/schema").status_code in {anonymous, 403}
    assert client.get("/api/v1/schema").status_code == token
