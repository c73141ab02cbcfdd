"""In a real browser, each demo user signs in and sees only what the role allows."""

import pytest
from django.conf import settings
from django.core.management import call_command

from ccm.management.commands.seed_demo import demo_password
from tests.signin import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("seed_demo", dispatches=0)
    settings.DEBUG = False
    return settings


def _login(page, base_url: str, username: str) -> None:
    browser_sign_in(page, base_url, username, demo_password(username))
    page.wait_for_selector("#user-tools")


ROLE_SCREENS = {
    # role user: (admin lists shown on the index, lists that must not show)
    "author": (
        ["templates_app/template", "templates_app/contentblock"],
        ["auth/user", "audit/auditevent", "channels_app/dispatch"],
    ),
    "reviewer": (
        ["templates_app/template", "audit/auditevent"],
        ["auth/user", "channels_app/dispatch", "channels_app/customer"],
    ),
    "agent": (
        [],
        [
            "channels_app/customer",
            "channels_app/dispatch",
            "channels_app/communication",
            "auth/user",
            "templates_app/template",
            "audit/auditevent",
        ],
    ),
    "operator": (
        [
            "auth/user",
            "audit/auditevent",
            "channels_app/dispatch",
            "channels_app/escalation",
        ],
        ["templates_app/template"],
    ),
}


@pytest.mark.parametrize("username", sorted(ROLE_SCREENS))
def test_each_demo_user_sees_only_what_the_role_allows(
    live_server, page, demo, username
):
    shown, hidden = ROLE_SCREENS[username]
    _login(page, live_server.url, username)

    for path in shown:
        assert page.locator(f"#content-main a[href='/admin/{path}/']").count() > 0, path
    for path in hidden:
        assert page.locator(f"#content-main a[href='/admin/{path}/']").count() == 0, (
            path
        )
        page.goto(f"{live_server.url}/admin/{path}/")
        assert "403" in page.content(), path
        page.goto(f"{live_server.url}/admin/")


def test_operator_sees_users_and_agent_does_not(live_server, page, demo):
    _login(page, live_server.url, "operator")
    assert page.locator("#content-main a[href='/admin/auth/user/']").count() > 0
    page.click("#logout-form button")

    _login(page, live_server.url, "author")
    assert page.locator("#content-main a[href='/admin/auth/user/']").count() == 0
    page.goto(f"{live_server.url}/admin/auth/user/")
    assert "403" in page.content()


def test_switching_to_arabic_lays_the_admin_out_right_to_left(live_server, page, demo):
    _login(page, live_server.url, "operator")
    assert page.get_attribute("html", "dir") == "ltr"

    with page.expect_navigation():
        page.select_option("#language-select", "ar")

    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "ar"
    # Django's RTL stylesheet puts the navigation on the right.
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    page.screenshot(path=str(settings.VAR_DIR / "admin-ar.png"))
