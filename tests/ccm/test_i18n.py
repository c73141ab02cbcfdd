"""Each user picks Arabic or English; Arabic lays the admin out right to left."""

import pytest

from ccm.models import UserSettings
from tests.factories import user_build

pytestmark = pytest.mark.django_db


def test_language_switch_is_remembered_for_the_user_on_any_browser(client):
    user = user_build(username="layla", role="Agent")
    client.force_login(user)

    response = client.post("/i18n/language", {"language": "ar", "next": "/admin/"})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert UserSettings.objects.get(user=user).language == "ar"

    other_browser = client.__class__()
    other_browser.force_login(user)
    page = other_browser.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert b'dir="rtl"' in page.content
    assert b'lang="ar"' in page.content


def test_unknown_language_and_foreign_redirect_are_ignored(client):
    user = user_build(username="sam")
    client.force_login(user)

    response = client.post(
        "/i18n/language", {"language": "xx", "next": "https://evil.example.com/"}
    )

    assert response["Location"] == "/"
    assert not UserSettings.objects.filter(user=user).exists()


def test_admin_login_page_is_translated_to_arabic(client):
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="ar")

    assert b'dir="rtl"' in page.content
    assert "التحكم في الاتصالات".encode() in page.content
