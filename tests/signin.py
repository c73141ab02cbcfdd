"""Signing in as a person does: password, then the authenticator app's code.

`Client.force_login` stands for a completed sign-in, both factors (see
tests/conftest.py); these helpers go through the real forms instead.
"""

import time

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.mfa import confirmed_device, second_factor_required


def totp_device(user) -> TOTPDevice:
    """The user's confirmed authenticator app, made if they have none."""
    device = confirmed_device(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Test app", confirmed=True)
    return device


def totp_code(device: TOTPDevice) -> str:
    """A code the device accepts now: not one of a time step already used.

    django-otp refuses a step used before (replay) and accepts one step of
    drift either way; two sign-ins within a step take the next step's code,
    a third waits for the clock.
    """
    while True:
        device.refresh_from_db()
        totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
        now = totp.t()
        for drift in (0, 1):
            if now + drift > device.last_t:
                totp.drift = device.drift + drift
                return f"{totp.token():0{device.digits}d}"
        time.sleep(0.5)  # waits on the clock to reach an unused step


def client_sign_in(client, username: str, password: str) -> None:
    """Sign a test client in through the admin form and, if due, the code form."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    needs_code = second_factor_required(user) or confirmed_device(user) is not None
    device = totp_device(user) if needs_code else None
    response = client.post(
        "/admin/login/", {"username": username, "password": password}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    if device is not None:
        response = client.post(
            "/account/second-factor/", {"otp_token": totp_code(device)}
        )
        assert response.status_code == 302, response.content.decode()[:2000]


def browser_sign_in(page, base_url: str, username: str, password: str, next="") -> None:
    """Sign in in the browser: the admin form, then the code when it is asked."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    needs_code = second_factor_required(user) or confirmed_device(user) is not None
    device = totp_device(user) if needs_code else None
    query = f"?next={next}" if next else ""
    page.goto(f"{base_url}/admin/login/{query}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    if device is not None:
        page.wait_for_selector("#id_otp_token")
        page.fill("#id_otp_token", totp_code(device))
        page.click("#otp-form input[type=submit]")
        page.wait_for_url(lambda url: "/account/" not in url)
