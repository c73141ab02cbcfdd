"""The demo operator's Monday morning in Debian's Chromium, in English and in
Arabic (right to left): the dashboard, a channel filter, a figure followed to
its records, and a template paused and resumed."""

import pytest
from django.conf import settings
from django.core.management import call_command

from ccm.management.commands.seed_demo import demo_password
from channels_app.models import Pause
from tests.signin import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(settings, transactional_db):
    settings.DEBUG = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", dispatches=120)


def _shot(page, name: str) -> None:
    page.screenshot(path=settings.VAR_DIR / f"ops-{name}.png", full_page=True)


def _sign_in(page, url: str, username: str) -> None:
    browser_sign_in(page, url, username, demo_password(username), next="/ops/")
    page.wait_for_selector("#totals")


def _monday_morning(page, url: str, language: str) -> None:
    """Filter by channel, follow a figure, pause and resume a template."""
    assert int(page.inner_text("#totals [data-status=created] .figure")) > 0
    assert page.locator("#volumes svg polyline").count() >= 1
    assert page.locator("#rates svg rect").count() >= 5
    assert page.locator("#escalations tbody tr").count() == 4
    _shot(page, f"dashboard-{language}")

    page.select_option("#id_channel", "sms")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/ops/?*channel=sms*")
    sms_sent = int(page.inner_text("#totals [data-status=sent] .figure"))
    assert sms_sent > 0
    assert page.locator("#queues tbody tr[data-channel=email]").count() == 0
    _shot(page, f"dashboard-sms-{language}")

    # The figure leads to the dispatches it counts.
    page.click("#totals [data-status=sent]")
    page.wait_for_selector("#result_list")
    assert "channel=sms" in page.url
    channels = page.locator("#result_list tbody td.field-channel").all_inner_texts()
    assert channels
    assert all("SMS" in c for c in channels)
    _shot(page, f"records-{language}")
    page.go_back()
    page.wait_for_selector("#pause-form")

    page.select_option("#pause-form #id_scope", "template")
    page.fill("#pause-form #id_value", "payment-reminder")
    page.fill("#pause-form #id_reason", "Wrong amount in the copy")
    page.click("#pause-form button[type=submit]")
    page.wait_for_selector("#pauses tr[data-pause='template:payment-reminder']")
    assert "Wrong amount in the copy" in page.inner_text("#pauses")
    assert Pause.objects.filter(
        value="payment-reminder", resumed_at__isnull=True
    ).exists()
    _shot(page, f"paused-{language}")

    row = "#pauses tr[data-pause='template:payment-reminder']"
    page.fill(f"{row} input[name=reason]", "Copy corrected")
    page.click(f"{row} button.resume")
    # Resuming kicks the outbox; the first kick opens the broker connection.
    page.wait_for_selector(".messages li.success", timeout=45_000)
    assert page.locator(row).count() == 0
    assert not Pause.objects.filter(
        value="payment-reminder", resumed_at__isnull=True
    ).exists()
    _shot(page, f"resumed-{language}")


def test_the_demo_operator_runs_the_dashboard_in_english_and_arabic(
    live_server, page, demo
):
    _sign_in(page, live_server.url, "operator")
    assert page.get_attribute("html", "dir") == "ltr"
    _monday_morning(page, live_server.url, "en")

    page.goto(f"{live_server.url}/ops/")
    page.select_option("#language-select", "ar")
    page.wait_for_function("() => document.documentElement?.dir === 'rtl'")
    assert "كيف يسير التواصل" in page.inner_text("h1")
    _monday_morning(page, live_server.url, "ar")
