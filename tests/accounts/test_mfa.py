"""Reviewers and Operators sign in with a password and a TOTP code."""

import re
from base64 import b32decode

import pytest
from django.core.management import call_command
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import device_secret
from ccm import roles
from tests.factories import user_build
from tests.signin import totp_code, totp_device

pytestmark = pytest.mark.django_db

PASSWORD = "pw-12345!x"


def _password(client, username, next_url="/admin/"):
    response = client.post(
        f"/admin/login/?next={next_url}",
        {"username": username, "password": PASSWORD, "next": next_url},
    )
    assert response.status_code == 302
    return response


def test_an_operator_must_give_the_code_before_any_page(client):
    operator = user_build(username="omar", role=roles.OPERATOR)
    device = totp_device(operator)
    _password(client, "omar", "/ops/")

    for path in ("/ops/", "/admin/", "/agent/", "/admin/auth/user/"):
        held = client.get(path)
        assert held.status_code == 302
        assert held["Location"].startswith("/account/second-factor/?next=")

    page = client.get("/account/second-factor/?next=/ops/")
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.content.decode()

    wrong = client.post(
        "/account/second-factor/", {"otp_token": "000000", "next": "/ops/"}
    )
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.content.decode()
    assert client.get("/ops/").status_code == 302

    device.throttle_reset()
    right = client.post(
        "/account/second-factor/", {"otp_token": totp_code(device), "next": "/ops/"}
    )

    assert right.status_code == 302
    assert right["Location"] == "/ops/"
    assert client.get("/ops/").status_code == 200


def test_a_used_code_is_refused_the_second_time(client):
    reviewer = user_build(username="rami", role=roles.REVIEWER)
    device = totp_device(reviewer)
    code = totp_code(device)
    _password(client, "rami")
    assert (
        client.post("/account/second-factor/", {"otp_token": code}).status_code == 302
    )
    client.logout()

    _password(client, "rami")
    replay = client.post("/account/second-factor/", {"otp_token": code})

    assert replay.status_code == 400
    assert client.get("/admin/").status_code == 302


def test_wrong_codes_are_slowed_down(client):
    reviewer = user_build(username="rami", role=roles.REVIEWER)
    device = totp_device(reviewer)
    _password(client, "rami")
    for _ in range(3):
        client.post("/account/second-factor/", {"otp_token": "000000"})

    right = client.post("/account/second-factor/", {"otp_token": totp_code(device)})

    assert right.status_code == 400
    assert "Too many wrong codes: wait" in right.content.decode()


def test_a_reviewer_without_an_app_enrols_first_and_confirms_with_a_code(client):
    user_build(username="rami", role=roles.REVIEWER)
    _password(client, "rami", "/admin/templates_app/template/")

    held = client.get("/admin/templates_app/template/")
    assert held.status_code == 302
    assert held["Location"].startswith("/account/second-factor/enrol/?next=")
    page = client.get(held["Location"])
    html = page.content.decode()
    assert page.status_code == 200
    assert "<svg" in html  # the QR code, drawn in the page
    secret = re.search(r'id="otp-secret">([A-Z2-7 ]+)<', html).group(1)
    key = b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))

    wrong = client.post(
        "/account/second-factor/enrol/",
        {"otp_token": "123456", "next": "/admin/templates_app/template/"},
    )
    assert wrong.status_code == 400
    assert not TOTPDevice.objects.filter(user__username="rami", confirmed=True).exists()

    TOTPDevice.objects.filter(user__username="rami").update(throttling_failure_count=0)
    code = f"{TOTP(key).token():06d}"
    done = client.post(
        "/account/second-factor/enrol/",
        {"otp_token": code, "next": "/admin/templates_app/template/"},
    )

    assert done.status_code == 302
    assert done["Location"] == "/admin/templates_app/template/"
    assert client.get("/admin/templates_app/template/").status_code == 200
    assert TOTPDevice.objects.get(user__username="rami").confirmed


def test_a_password_alone_never_replaces_an_enrolled_app(client):
    operator = user_build(username="omar", role=roles.OPERATOR)
    totp_device(operator)
    _password(client, "omar")

    response = client.get("/account/second-factor/enrol/")

    assert response.status_code == 302
    assert response["Location"].startswith("/account/second-factor/?")
    assert TOTPDevice.objects.filter(user=operator).count() == 1


def test_other_roles_sign_in_with_a_password_unless_they_enrolled(client):
    user_build(username="amira", role=roles.AUTHOR)
    _password(client, "amira")
    assert client.get("/admin/").status_code == 200
    client.logout()

    agent = user_build(username="aisha", role=roles.AGENT)
    totp_device(agent)  # enrolled of her own accord
    _password(client, "aisha")

    assert client.get("/agent/").status_code == 302


def test_the_required_roles_are_a_setting(client, settings):
    settings.MFA_REQUIRED_ROLES = [roles.AUTHOR]
    user_build(username="amira", role=roles.AUTHOR)
    user_build(username="omar", role=roles.OPERATOR)

    _password(client, "amira")
    assert client.get("/admin/").status_code == 302
    client.logout()
    _password(client, "omar")
    assert client.get("/admin/").status_code == 200


def test_an_unknown_required_role_is_a_configuration_error(settings):
    from django.core.management.base import SystemCheckError

    settings.MFA_REQUIRED_ROLES = ["Reviewers"]

    with pytest.raises(SystemCheckError, match="MFA_REQUIRED_ROLES names 'Reviewers'"):
        call_command("check")


def test_a_session_without_its_code_gets_no_api_answer(client):
    user_build(username="omar", role=roles.OPERATOR)
    _password(client, "omar")

    response = client.get("/api/v1/communications/1")

    assert response.status_code == 403
    assert "Sign-in is not complete" in response.json()["detail"]


def test_the_code_page_sends_only_to_this_site(client):
    operator = user_build(username="omar", role=roles.OPERATOR)
    device = totp_device(operator)
    _password(client, "omar")

    response = client.post(
        "/account/second-factor/",
        {"otp_token": totp_code(device), "next": "https://evil.example/"},
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/"


def test_the_code_page_speaks_arabic(client):
    operator = user_build(username="omar", role=roles.OPERATOR)
    totp_device(operator)
    _password(client, "omar")

    page = client.get("/account/second-factor/", HTTP_ACCEPT_LANGUAGE="ar")

    assert 'dir="rtl"' in page.content.decode()
    assert "الرمز من تطبيق المصادقة" in page.content.decode()


def test_seed_demo_gives_the_demo_reviewer_and_operators_a_known_app(settings):
    from ccm.management.commands.seed_demo import demo_totp_key

    settings.DEBUG = True
    call_command("seed_demo", dispatches=0)

    for username in ("reviewer", "operator", "operator-2"):
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        assert device.key == demo_totp_key(username)
    assert not TOTPDevice.objects.filter(user__username="author").exists()


def test_the_demo_code_command_refuses_with_debug_off(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        call_command("demo_totp_code", "operator")


def test_operators_remove_a_lost_app_without_ever_seeing_a_key(client):
    reviewer = user_build(username="rami", role=roles.REVIEWER)
    device = totp_device(reviewer)
    client.force_login(user_build(username="omar", role=roles.OPERATOR))

    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key not in page.content.decode()
    assert device_secret(device).replace(" ", "") not in page.content.decode()
    for view in ("config", "qrcode"):  # django-otp's key pages are gone
        address = f"/admin/otp_totp/totpdevice/{device.pk}/{view}/"
        assert client.get(address).status_code in (302, 404)
    removed = client.post(
        f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}
    )

    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(user=reviewer).exists()


def test_an_author_may_enrol_from_the_top_bar_and_is_then_asked_for_codes(client):
    user_build(username="amira", role=roles.AUTHOR)
    _password(client, "amira")
    admin_page = client.get("/admin/").content.decode()
    assert 'href="/account/second-factor/enrol/"' in admin_page

    page = client.get("/account/second-factor/enrol/").content.decode()
    assert "<svg" in page
    device = TOTPDevice.objects.get(user__username="amira", confirmed=False)
    assert (
        client.post(
            "/account/second-factor/enrol/", {"otp_token": totp_code(device)}
        ).status_code
        == 302
    )
    client.logout()

    _password(client, "amira")
    assert client.get("/admin/").status_code == 302  # the code, from now on
