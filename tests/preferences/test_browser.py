"""The customer's way in Chromium: from a delivered email to paperless, in Arabic."""

import re

import pytest
from django.conf import settings

from channels_app import outbox
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from customers.models import PreferenceEntry
from customers.services import customer_upsert
from tests.console.conftest import reminder_data, renewal_data

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shot(page, name: str) -> None:
    page.screenshot(path=settings.VAR_DIR / f"preferences-{name}.png", full_page=True)


def test_a_customer_follows_the_email_link_goes_paperless_in_arabic_and_the_next_letter_stops(  # noqa: E501
    live_server, page, demo_templates, smtp_sink, settings
):
    settings.PUBLIC_BASE_URL = live_server.url
    customer, _ = customer_upsert(
        external_id="CUST-77001",
        name="Reem Al-Harbi",
        email="reem.harbi@example.com",
        phone="+966501234567",
        language="en",
        postal_address="12 King Fahd Road\nRiyadh 12271",
    )
    email = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
        scope="MT-204518",
    ).dispatches.get()
    outbox.dispatches_claim(limit=100)
    outbox.dispatches_send(ids=[email.pk])

    # The email as the mail server received it: the link in its footer.
    [message] = smtp_sink.messages
    html = message.get_body(("html",)).get_content()
    base = re.escape(live_server.url)
    link = re.search(rf'href="({base}/p/[^"]+/)"', html)[1]
    assert "CUST-77001" not in link and "reem" not in link.lower()

    # On a phone.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(link)
    page.wait_for_selector("#preferences-form")
    assert page.get_attribute("html", "lang") == "en"
    page.click("#lang-ar")
    page.wait_for_function("() => document.documentElement?.dir === 'rtl'")
    assert page.inner_text("h1") == "تفضيلات التواصل الخاصة بك"
    assert page.locator("#mandatory li").count() >= 1
    # Usable with the keyboard: every choice has a label and takes focus.
    page.focus("#paperless-all")
    assert page.evaluate("document.activeElement.id") == "paperless-all"
    page.keyboard.press("Space")
    assert page.is_checked("#paperless-all")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, "nothing is wider than the phone's screen"
    _shot(page, "centre-ar-before")
    page.click("#save")
    page.wait_for_selector("#saved")
    assert page.get_attribute("html", "dir") == "rtl"
    assert "تم الحفظ" in page.inner_text("#saved")
    assert page.is_checked("#paperless-all")
    _shot(page, "centre-ar-saved")

    entry = PreferenceEntry.objects.get()
    assert (entry.channel, entry.scope, entry.opted_in, entry.source) == (
        "letter",
        "",
        False,
        "customer",
    )
    assert entry.source_message == str(email.communication.public_id)
    assert "Chrome" in entry.user_agent or "Chromium" in entry.user_agent

    # A letter about another product is stopped, naming the entry.
    letter = communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=renewal_data(customer),
        channels=["letter"],
        requester_label="policy-admin",
        scope="HM-778201",
    ).dispatches.get()
    assert letter.status == Dispatch.Status.SUPPRESSED
    assert letter.decision == "customer opted out of letter customer-wide"
    assert letter.rule_decisions[-1]["ledger_entry"] == entry.pk
