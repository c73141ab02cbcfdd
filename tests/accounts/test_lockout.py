"""Ten wrong passwords lock the account for the configured time (django-axes)."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from ccm import roles
from tests.factories import user_build

pytestmark = pytest.mark.django_db

PASSWORD = "pw-12345!x"


def _attempt(client, username, password, **headers):
    return client.post(
        "/admin/login/", {"username": username, "password": password}, **headers
    )


def _fail(client, username, times, **headers):
    for _ in range(times):
        response = _attempt(client, username, "wrong-password", **headers)
        assert response.status_code in (200, 429)
    return response


def test_ten_wrong_passwords_lock_the_account_and_the_right_one_is_refused(client):
    user_build(username="amira", role=roles.AUTHOR)

    for _ in range(9):
        assert _attempt(client, "amira", "wrong-password").status_code == 200
    locked = _attempt(client, "amira", "wrong-password")
    assert locked.status_code == 429

    response = _attempt(client, "amira", PASSWORD)

    assert response.status_code == 429
    page = response.content.decode()
    assert "this account is locked for 15 minutes" in page
    assert "_auth_user_id" not in client.session
    assert client.get("/admin/").status_code == 302  # still signed out


def test_the_lockout_page_speaks_arabic(client):
    user_build(username="amira", role=roles.AUTHOR)
    response = _fail(client, "amira", 10, HTTP_ACCEPT_LANGUAGE="ar")

    assert response.status_code == 429
    assert 'dir="rtl"' in response.content.decode()
    assert "هذا الحساب مقفل لمدة 15 دقيقة" in response.content.decode()


def test_the_lock_ends_after_the_configured_time(client, settings):
    user_build(username="amira", role=roles.AUTHOR)
    _fail(client, "amira", 10)
    assert _attempt(client, "amira", PASSWORD).status_code == 429

    # The cool-off passes (the attempts are dated back past it).
    AccessAttempt.objects.update(
        attempt_time=timezone.now()
        - timedelta(minutes=settings.AXES_COOLOFF_MINUTES, seconds=1)
    )

    assert _attempt(client, "amira", PASSWORD).status_code == 302
    assert client.get("/admin/").status_code == 200


def test_nine_wrong_passwords_then_the_right_one_sign_in_and_reset_the_count(client):
    user_build(username="amira", role=roles.AUTHOR)
    _fail(client, "amira", 9)
    assert _attempt(client, "amira", PASSWORD).status_code == 302
    client.logout()

    _fail(client, "amira", 9)  # counted from zero again

    assert _attempt(client, "amira", PASSWORD).status_code == 302


def test_the_lock_is_on_the_account_not_on_the_address(client):
    user_build(username="amira", role=roles.AUTHOR)
    user_build(username="aisha", role=roles.AGENT)
    _fail(client, "amira", 10)

    # A colleague behind the same address still signs in.
    assert _attempt(client, "aisha", PASSWORD).status_code == 302
    # The locked account stays locked from another address.
    assert (
        _attempt(client, "amira", PASSWORD, REMOTE_ADDR="10.9.8.7").status_code == 429
    )


def test_the_limit_and_time_come_from_the_settings(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_MINUTES = 1
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    user_build(username="amira", role=roles.AUTHOR)
    _fail(client, "amira", 3)

    response = _attempt(client, "amira", PASSWORD)

    assert response.status_code == 429
    assert "this account is locked for 1 minute." in response.content.decode()


def test_an_operator_unlocks_an_account_before_its_time(client):
    user_build(username="amira", role=roles.AUTHOR)
    operator = user_build(username="omar", role=roles.OPERATOR)
    _fail(client, "amira", 10)
    attempt = AccessAttempt.objects.get(username="amira")

    client.force_login(operator)
    listing = client.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200
    assert "amira" in listing.content.decode()
    deleted = client.post(
        f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"}
    )
    assert deleted.status_code == 302
    client.logout()

    assert _attempt(client, "amira", PASSWORD).status_code == 302
