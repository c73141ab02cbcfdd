"""An operator asks, in Debian's Chromium, what the rules would do and why."""

import pytest

from ccm.roles import OPERATOR
from rules.demo import rules_demo_seed
from tests.factories import user_build
from tests.rules.conftest import customer_build
from tests.signin import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct-horse-battery"


def test_the_dry_run_shows_each_rule_verdict_for_each_channel(
    page, live_server, templates
):
    user_build(username="omar", role=OPERATOR, password=PASSWORD)
    rules_demo_seed()
    customer_build("C-pago", time_zone="Pacific/Pago_Pago")

    browser_sign_in(page, live_server.url, "omar", PASSWORD)
    page.goto(f"{live_server.url}/admin/rules/rule/")
    page.click("#dry-run-link")
    page.fill("#id_customer", "C-pago")
    page.select_option("#id_template", "payment-reminder")
    page.select_option("#id_channel", "sms")
    page.fill("#id_at", "2027-06-01T09:30")  # 22:30 the day before in Pago Pago
    page.click("#dry-run-form input[type=submit]")

    result = page.wait_for_selector("#dry-run-result")
    text = result.inner_text()
    assert "2027-05-31 22:30 in the customer's time zone" in text
    # 19:00 UTC, shown in the operator's zone (Asia/Riyadh by default).
    assert "queued, deferred to 2027-06-01 22:00 +03" in text
    assert "SMS quiet hours" in text and "deferred" in text
    assert "only for marketing categories" in text


def _sign_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    browser_sign_in(page, live_server.url, username, PASSWORD)
    page.wait_for_selector("#user-tools")


def test_a_quiet_hours_change_applies_once_a_second_operator_approves_it(
    page, live_server, templates
):
    from rules.selectors import rules_in_force

    user_build(username="omar", role=OPERATOR, password=PASSWORD)
    user_build(username="nadia", role=OPERATOR, password=PASSWORD)
    rules_demo_seed()

    _sign_in(page, live_server, "omar")
    page.goto(f"{live_server.url}/admin/rules/rule/")
    page.click("text=SMS quiet hours")
    page.fill("#id_quiet_start", "22:00")
    page.fill("#id_reason", "complaints about SMS at 21:30")
    page.click("#propose-submit")
    page.wait_for_selector("#rule-version-status")
    review = page.url
    assert page.inner_text("#rule-version-status") == "Proposed, awaiting approval"
    assert page.is_disabled("#rule-approve")
    assert "Segregation of duties" in page.inner_text("#rule-self-review")
    assert [
        rule.quiet_start.hour for rule in rules_in_force() if rule.channel == "sms"
    ] == [21]

    _sign_in(page, live_server, "nadia")
    page.goto(review)
    page.fill("#id_comment", "fits the night-time policy")
    page.click("#rule-approve")
    page.wait_for_selector("ul.messagelist")

    assert page.inner_text("#rule-version-status") == "Approved, in force"
    assert [
        rule.quiet_start.hour for rule in rules_in_force() if rule.channel == "sms"
    ] == [22]
