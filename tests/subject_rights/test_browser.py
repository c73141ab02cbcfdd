"""In a real browser, a records manager erases a customer from the admin, in
English and in Arabic, and downloads the export."""

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission

from ccm.models import UserSettings
from subject_rights.models import ErasureRequest
from tests.signin import browser_sign_in
from tests.subject_rights.conftest import NAME

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(page, live_server, user) -> None:
    user.set_password("pw-12345!x")
    user.save()
    browser_sign_in(page, live_server.url, user.username, "pw-12345!x")
    page.wait_for_selector("#user-tools")


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_records_manager_erases_a_customer_from_the_admin(
    live_server, browser, subject, language
):
    subject.dpo.user_permissions.add(Permission.objects.get(codename="use_console"))
    UserSettings.objects.update_or_create(
        user=subject.dpo, defaults={"language": language}
    )
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _log_in(page, live_server, subject.dpo)
        assert page.get_attribute("html", "dir") == (
            "rtl" if language == "ar" else "ltr"
        )
        page.goto(f"{live_server.url}/admin/subject_rights/erasurerequest/export/")
        page.fill("#external_id", "HQ-1")
        page.press("#external_id", "Enter")
        with page.expect_download() as pdf:
            page.click("a.button >> text=PDF")
        assert pdf.value.suggested_filename.endswith(".pdf")

        page.goto(f"{live_server.url}/admin/subject_rights/erasurerequest/add/")
        page.fill("#id_external_id", "HQ-1")
        page.fill("#id_reason", "Request received by letter")
        page.fill("#id_reference", f"DSR-{language}")
        page.screenshot(
            path=settings.VAR_DIR / f"erasure-form-{language}.png", full_page=True
        )
        page.click("#erasure-form input[type=submit]")
        # Not confirmed: the browser keeps the form, nothing is done.
        assert page.locator("#id_confirm:invalid").count() == 1
        assert ErasureRequest.objects.count() == 0

        page.check("#id_confirm")
        page.click("#erasure-form input[type=submit]")
        page.wait_for_selector("ul.messagelist li")
        page.screenshot(
            path=settings.VAR_DIR / f"erasure-done-{language}.png", full_page=True
        )
        done = ErasureRequest.objects.get()
        assert done.status == ErasureRequest.Status.ERASED
        assert f"DSR-{language}" in page.inner_text("#content")

        page.goto(f"{live_server.url}/agent/customers/{subject.customer.pk}/")
        page.wait_for_selector("#customer-erased")
        assert NAME not in page.content()
        page.screenshot(
            path=settings.VAR_DIR / f"console-erased-{language}.png", full_page=True
        )
    finally:
        context.close()
