"""In a real browser, one records manager proposes a shorter period in English
and a second approves it in Arabic."""

import importlib

import pytest
from django.apps import apps
from django.conf import settings

from ccm.models import UserSettings
from ccm.roles import RECORDS_MANAGER
from retention.models import RetentionClass, RetentionClassChange
from tests.factories import user_build
from tests.signin import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "pw-12345!x"
default_class_create = importlib.import_module(
    "retention.migrations.0002_default_class_and_roles"
).default_class_create


def _page_as(browser, live_server, username: str, language: str):
    user = user_build(username=username, role=RECORDS_MANAGER, password=PASSWORD)
    UserSettings.objects.update_or_create(user=user, defaults={"language": language})
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    browser_sign_in(page, live_server.url, username, PASSWORD)
    page.wait_for_selector("#user-tools")
    return context, page


def test_a_shorter_period_proposed_by_one_is_approved_by_another(live_server, browser):
    # A committing test before this one flushed what the migrations seeded.
    default_class_create(apps, None)
    default = RetentionClass.objects.get(category__isnull=True)
    url = f"{live_server.url}/admin/retention/retentionclass/{default.pk}/change/"
    context, page = _page_as(browser, live_server, "dpo", "en")
    try:
        page.goto(url)
        page.fill("#id_copies_days", "730")
        page.fill("#id_change_reason", "Two years are enough for copies")
        page.click("input[name=_save]")
        page.wait_for_selector("#retention-change")
        assert "was proposed" in page.inner_text("ul.messagelist")
        assert page.locator("#retention-change-withdraw").count() == 1
        assert page.locator("#retention-change-approve").count() == 0
        page.screenshot(
            path=settings.VAR_DIR / "retention-proposed-en.png", full_page=True
        )
    finally:
        context.close()
    assert RetentionClass.objects.get(pk=default.pk).copies_days == 3653

    context, page = _page_as(browser, live_server, "counsel", "ar")
    try:
        page.goto(url)
        assert page.get_attribute("html", "dir") == "rtl"
        page.wait_for_selector("#retention-change-approve")
        assert page.locator("#retention-change-withdraw").count() == 0
        page.screenshot(
            path=settings.VAR_DIR / "retention-approve-ar.png", full_page=True
        )
        page.click("#retention-change-approve")
        page.wait_for_selector("ul.messagelist li")
        assert page.locator("#retention-change").count() == 0
    finally:
        context.close()
    assert RetentionClass.objects.get(pk=default.pk).copies_days == 730
    change = RetentionClassChange.objects.get()
    assert (change.status, change.decided_by.username) == ("approved", "counsel")
