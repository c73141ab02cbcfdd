"""In Chromium, in English and Arabic: an operator signs in with a password and
the code of their authenticator app; ten wrong passwords lock the account for
the configured time, during which the right password is refused."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from ccm import roles
from tests.conftest import csp_watched_page
from tests.factories import user_build
from tests.signin import totp_code, totp_device

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "pw-12345!x"
CODE_LABEL = {"en": "Code from your authenticator app", "ar": "الرمز من تطبيق المصادقة"}
LOCKED = {
    "en": "this account is locked for 15 minutes",
    "ar": "هذا الحساب مقفل لمدة 15 دقيقة",
}


@pytest.fixture
def reader(browser, request):
    language = request.param
    # The sign-in pages keep to the Content-Security-Policy too.
    with csp_watched_page(browser, locale=language) as page:
        yield page, language


def _password(page, base_url, username, password, next_url="/admin/"):
    page.goto(f"{base_url}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form input[type=submit]")


@pytest.mark.parametrize("reader", ["en", "ar"], indirect=True)
def test_an_operator_signs_in_with_password_and_code(reader, live_server):
    page, language = reader
    operator = user_build(username="omar", role=roles.OPERATOR, password=PASSWORD)
    device = totp_device(operator)

    _password(page, live_server.url, "omar", PASSWORD)

    # The password alone opens nothing: the code is asked for, in the language.
    page.wait_for_selector("#id_otp_token")
    assert page.locator("html").get_attribute("lang") == language
    assert CODE_LABEL[language] in page.locator("label[for=id_otp_token]").inner_text()
    page.goto(f"{live_server.url}/admin/auth/user/")
    assert "/account/second-factor/" in page.url

    page.fill("#id_otp_token", "000000")
    page.click("#otp-form input[type=submit]")
    page.wait_for_selector(".errorlist")
    assert "/account/second-factor/" in page.url

    device.throttle_reset()
    page.fill("#id_otp_token", totp_code(device))
    page.click("#otp-form input[type=submit]")
    page.wait_for_selector("#user-tools")
    page.goto(f"{live_server.url}/admin/auth/user/")
    assert page.locator("#result_list").is_visible()


@pytest.mark.parametrize("reader", ["en", "ar"], indirect=True)
def test_ten_wrong_passwords_lock_the_account_for_the_configured_time(
    reader, live_server, settings
):
    page, language = reader
    operator = user_build(username="omar", role=roles.OPERATOR, password=PASSWORD)
    device = totp_device(operator)

    for attempt in range(1, 11):
        _password(page, live_server.url, "omar", f"wrong-{attempt}")
        page.wait_for_selector(".errornote")
    assert page.locator("#locked-out").is_visible()

    # Locked: the right password is refused with the lockout message.
    _password(page, live_server.url, "omar", PASSWORD)
    page.wait_for_selector("#locked-out")
    assert LOCKED[language] in page.locator("#locked-out").inner_text()
    assert page.locator("html").get_attribute("dir") == (
        "rtl" if language == "ar" else "ltr"
    )
    page.goto(f"{live_server.url}/admin/")
    assert "/admin/login/" in page.url

    # After the configured time (the attempts dated back past it) it opens.
    AccessAttempt.objects.update(
        attempt_time=timezone.now()
        - timedelta(minutes=settings.AXES_COOLOFF_MINUTES, seconds=1)
    )
    _password(page, live_server.url, "omar", PASSWORD)
    page.wait_for_selector("#id_otp_token")
    page.fill("#id_otp_token", totp_code(device))
    page.click("#otp-form input[type=submit]")
    page.wait_for_selector("#user-tools")
