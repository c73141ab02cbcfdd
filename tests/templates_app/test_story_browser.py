"""A new template from nothing to in force, in Debian's Chromium, in both languages.

An author working in Arabic creates a template that uses a content block,
gets a misspelled filter reported on its field with the edits kept, drafts
the schema from the content and submits; an English reviewer finds it in
the queue and approves; the category needs two approvals, so a second
reviewer, in Arabic, approves it too and it comes into force.
"""

import pytest
from django.conf import settings
from django.urls import reverse

from ccm.models import UserSettings
from templates_app import selectors
from templates_app.demo import demo_workflow_seed
from templates_app.models import Category, Status, Template
from tests.signin import browser_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"
CODE = "card-activation"

HTML_EN = (
    "<p>Dear {{ customer.name }},</p>\n"
    "<p>Your card is ready. The annual fee is {{ fee|mony('SAR') }}.</p>\n"
    '{{ block("legal-footer") }}'
)
HTML_AR = (
    "<p>عزيزنا {{ customer.name }}،</p>\n"
    "<p>بطاقتك جاهزة. الرسم السنوي {{ fee|money('SAR') }}.</p>\n"
    '{{ block("legal-footer") }}'
)


def _log_in(page, live_server, username):
    # Reviewers give their authenticator app's code after the password.
    browser_sign_in(page, live_server.url, username, PASSWORD)
    page.wait_for_selector("#site-name")


def _content_row(page, index, *, language, subject, html, text):
    page.click("#contents-group .add-row a")
    page.select_option(f"[name=contents-{index}-channel]", "email")
    page.select_option(f"[name=contents-{index}-language]", language)
    page.click(f"#tpl-tab-email-{language}")
    page.fill(f"[name=contents-{index}-subject]", subject)
    page.fill(f"[name=contents-{index}-html]", html)
    page.fill(f"[name=contents-{index}-text]", text)


def _approve(page, live_server, username, comment):
    """Sign in as a reviewer, find the new template in the queue, approve it."""
    _log_in(page, live_server, username)
    page.click("#tpl-review-queue-link a")
    page.wait_for_selector("#tpl-queue")
    item = page.locator(f"#tpl-queue .tpl-queue-item:has-text('{CODE}')")
    assert item.count() == 1
    item.locator("a").first.click()
    page.wait_for_selector("#tpl-approve")
    assert "Your card is ready" in page.inner_text("#pane-email-en")
    page.fill("#id_comment", comment)
    page.click("#tpl-approve")
    page.wait_for_selector("ul.messagelist li")
    return page


def test_an_arabic_author_creates_a_template_with_a_block_and_two_reviewers_approve(
    live_server, browser, author, reviewer, second_reviewer
):
    demo_workflow_seed(
        author=author, reviewer=reviewer, second_reviewer=second_reviewer
    )
    UserSettings.objects.create(user=author, language="ar")
    UserSettings.objects.create(user=second_reviewer, language="ar")
    category = Category.objects.get(code="policy-servicing")
    assert category.required_approvals == 2

    context = browser.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        # The author, in Arabic, creates the template with no schema yet.
        _log_in(page, live_server, author.username)
        assert page.get_attribute("html", "dir") == "rtl"
        page.goto(live_server.url + reverse("admin:templates_app_template_add"))
        page.fill("#id_code", CODE)
        page.fill("#id_name", "Card activation")
        page.fill("#id_name_ar", "تفعيل البطاقة")
        page.select_option("#id_category", str(category.pk))
        page.check("input[name=channels][value=email]")
        page.click("input[name=_continue]")
        page.wait_for_selector("#tpl-new-draft")
        page.click("#tpl-new-draft")
        page.wait_for_selector("#contents-group")

        # Content in English and Arabic, both using the legal footer block.
        _content_row(
            page,
            0,
            language="en",
            subject="Your card is ready",
            html=HTML_EN,
            text="Your card is ready, {{ customer.name }}.",
        )
        _content_row(
            page,
            1,
            language="ar",
            subject="بطاقتك جاهزة",
            html=HTML_AR,
            text="بطاقتك جاهزة يا {{ customer.name }}.",
        )
        page.click("input[name=_continue]")

        # The misspelled filter is named on its field; nothing typed is lost.
        page.wait_for_selector(".errorlist")
        assert "mony" in page.inner_text(".errorlist")
        page.click("#tpl-tab-email-en")
        assert page.input_value("[name=contents-0-html]") == HTML_EN
        page.click("#tpl-tab-email-ar")
        assert page.input_value("[name=contents-1-html]") == HTML_AR
        page.screenshot(path=settings.VAR_DIR / "story-author-ar.png", full_page=True)

        # Fixed, then the schema is drafted from the content, and saved.
        page.click("#tpl-tab-email-en")
        page.fill("[name=contents-0-html]", HTML_EN.replace("mony", "money"))
        page.click("#tpl-schema-draft")
        page.wait_for_selector("ul.messagelist li.success")
        assert "fee" in page.inner_text("ul.messagelist")
        template = Template.objects.get(code=CODE)
        assert template.data_schema["properties"]["fee"] == {"type": "number"}
        version = template.versions.get()
        assert version.contents.count() == 2

        page.click("#tpl-submit")
        page.wait_for_selector("ul.messagelist li.info")
        version.refresh_from_db()
        assert version.status == Status.IN_REVIEW
        # Submitted with the exact version of the block it renders with.
        assert version.pins.filter(block_version__block__code="legal-footer").exists()
        # The author's own review screen offers no decision.
        page.goto(
            live_server.url
            + reverse("admin:templates_app_templateversion_review", args=[version.pk])
        )
        page.wait_for_selector("#tpl-review-status")
        assert page.locator("#tpl-approve").count() == 0

    finally:
        context.close()

    # The first reviewer, in English: one approval of the two needed.
    first = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = first.new_page()
        page.set_default_timeout(30_000)
        _approve(page, live_server, reviewer.username, "Clear.")
        assert "In review" in page.inner_text("#tpl-review-status")
    finally:
        first.close()

    # The second reviewer, in Arabic: the version comes into force.
    second = browser.new_context(viewport={"width": 1366, "height": 900})
    try:
        page = second.new_page()
        page.set_default_timeout(30_000)
        _approve(page, live_server, second_reviewer.username, "واضح.")
        assert page.get_attribute("html", "dir") == "rtl"
        page.screenshot(
            path=settings.VAR_DIR / "story-second-reviewer-ar.png", full_page=True
        )
    finally:
        second.close()

    version.refresh_from_db()
    assert version.status == Status.APPROVED
    assert version.approvals.count() == 2
    assert selectors.version_in_force(Template.objects.get(code=CODE)) == version
