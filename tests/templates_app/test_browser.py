"""An author edits drafts in Debian's Chromium, watches the preview, sends a test."""

import pytest
from django.urls import reverse

from templates_app.models import Template
from tests.signin import browser_sign_in

pytestmark = pytest.mark.browser

PASSWORD = "correct-horse-battery"


def _log_in(page, live_server, username):
    browser_sign_in(page, live_server.url, username, PASSWORD)
    page.wait_for_selector("#site-name")


def _open_draft(page, live_server, code):
    template = Template.objects.get(code=code)
    page.goto(
        live_server.url
        + reverse("admin:templates_app_template_change", args=[template.pk])
    )
    page.click("a.inlinechangelink")
    page.wait_for_selector("#tpl-panes .tpl-pane")


def _field(page, channel, language, name):
    index = page.evaluate(
        """([channel, language]) => {
            const total = Number(document.querySelector(
                "input[name='contents-TOTAL_FORMS']").value);
            for (let i = 0; i < total; i++) {
                const c = document.querySelector(`[name='contents-${i}-channel']`);
                const l = document.querySelector(`[name='contents-${i}-language']`);
                if (c && l && c.value === channel && l.value === language) return i;
            }
            return -1;
        }""",
        [channel, language],
    )
    assert index >= 0, (channel, language)
    # One tab per channel and language: the author opens the one to edit.
    page.click(f"#tpl-tab-{channel}-{language}")
    return page.locator(f"[name='contents-{index}-{name}']")


def _append(page, channel, language, name, addition):
    field = _field(page, channel, language, name)
    field.fill(field.input_value() + addition)


def _wait_pane_contains(page, channel, language, needle, selector="iframe"):
    page.wait_for_function(
        """([id, selector, needle]) => {
            const pane = document.getElementById(id);
            if (!pane) return false;
            const node = pane.querySelector(selector);
            if (!node) return false;
            const text = node.tagName === "IFRAME" ? node.srcdoc : node.textContent;
            return text.includes(needle);
        }""",
        arg=[f"pane-{channel}-{language}", selector, needle],
    )


def test_author_edits_a_draft_sees_previews_and_receives_a_test_email(
    live_server, page, author, demo, smtp_sink
):
    _log_in(page, live_server, author.username)

    # Letter and email, in English and Arabic.
    _open_draft(page, live_server, "policy-renewal-letter")
    for language in ("en", "ar"):
        _append(page, "letter", language, "letter_html", f"<p>ZX-LETTER-{language}</p>")
        _wait_pane_contains(page, "letter", language, f"ZX-LETTER-{language}")
        _append(page, "email", language, "html", f"<p>ZX-EMAIL-{language}</p>")
        _wait_pane_contains(page, "email", language, f"ZX-EMAIL-{language}")
        _wait_pane_contains(
            page, "email", language, f"ZX-EMAIL-{language}", selector=".tpl-text"
        )
    assert page.locator("#pane-letter-ar").get_attribute("dir") == "rtl"
    assert page.locator("#pane-email-en iframe").get_attribute("sandbox") == ""
    pdf_head = page.evaluate(
        """async () => {
            const link = document.querySelector('#pane-letter-ar a.tpl-pdf-link');
            const bytes = await (await fetch(link.href)).arrayBuffer();
            return new TextDecoder().decode(bytes.slice(0, 5));
        }"""
    )
    assert pdf_head == "%PDF-"
    _field(page, "email", "en", "html")  # its tab shows its preview
    email_frame = page.frame_locator("#pane-email-en iframe")
    assert "ZX-EMAIL-en" in email_frame.locator("body").inner_text()

    # From the keyboard, as the page's keyboard users do: a pointer click can
    # land on the preview while a late redraw (the blur's change) moves it.
    page.focus("#tpl-send-test")
    page.keyboard.press("Enter")
    # Two emails rendered and sent: slow on a busy machine.
    page.wait_for_function(
        "() => document.getElementById('tpl-send-result').textContent"
        ".includes('author@example.com')",
        timeout=60_000,
    )
    assert smtp_sink.arrived.wait(10)
    assert len(smtp_sink.messages) == 2
    for message in smtp_sink.messages:
        assert message["To"] == "author@example.com"
        html = message.get_body(preferencelist=("html",)).get_content()
        text = message.get_body(preferencelist=("plain",)).get_content()
        language = message["Content-Language"]
        assert f"ZX-EMAIL-{language}" in html and f"ZX-EMAIL-{language}" in text
        assert "Omar Al-Qahtani" in html
        assert "{{" not in html

    page.click("input[name=_continue]")
    page.wait_for_selector("ul.messagelist li.success")
    template = Template.objects.get(code="policy-renewal-letter")
    saved = template.versions.get().contents.get(channel="letter", language="ar")
    assert "ZX-LETTER-ar" in saved.letter_html

    # SMS in English and Arabic, with encoding and segments.
    _open_draft(page, live_server, "payment-reminder")
    _append(page, "sms", "en", "sms_text", " ZX-SMS-en")
    _wait_pane_contains(page, "sms", "en", "ZX-SMS-en", selector=".tpl-sms")
    _append(page, "sms", "ar", "sms_text", " ZX-SMS-ar")
    _wait_pane_contains(page, "sms", "ar", "ZX-SMS-ar", selector=".tpl-sms")
    page.check("#tpl-show-all")  # every channel and language side by side
    facts_en = page.locator("#pane-sms-en .tpl-sms-facts").inner_text()
    facts_ar = page.locator("#pane-sms-ar .tpl-sms-facts").inner_text()
    assert "GSM-7" in facts_en and "Segments: 1" in facts_en
    assert "UCS-2" in facts_ar and "Segments: 2" in facts_ar


def test_a_misspelled_filter_is_shown_on_its_field_and_the_schema_is_drafted(
    live_server, page, author, demo
):
    _log_in(page, live_server, author.username)
    _open_draft(page, live_server, "payment-reminder")
    field = _field(page, "email", "en", "html")
    typed = field.input_value() + "<p>{{ total_due|mony('SAR') }}</p>"
    field.fill(typed)
    # Saved at once, while the live preview is redrawing: the save still goes.
    page.click("input[name=_continue]")
    page.wait_for_selector(".errorlist")
    assert "mony" in page.inner_text(".errorlist")
    assert _field(page, "email", "en", "html").input_value() == typed

    fixed = typed.replace("mony", "money")
    _field(page, "email", "en", "html").fill(fixed)
    page.click("#tpl-schema-draft")
    page.wait_for_selector("ul.messagelist li.success")
    assert "total_due" in page.inner_text("ul.messagelist")
    template = Template.objects.get(code="payment-reminder")
    assert template.data_schema["properties"]["total_due"] == {"type": "number"}
    saved = template.versions.get(number=1).contents.get(channel="email", language="en")
    assert "total_due|money" in saved.html


def test_the_version_page_shows_one_channel_and_language_beside_its_preview(
    live_server, browser, author, demo, tmp_path
):
    """At 1366 x 768: a tab per channel and language, the preview beside it."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        _log_in(page, live_server, author.username)
        _open_draft(page, live_server, "payment-reminder")
        tabs = page.locator("#tpl-tabs [role=tab]")
        labels = tabs.all_inner_texts()
        assert labels == [
            "Email · Arabic",
            "Email · English",
            "SMS · Arabic",
            "SMS · English",
        ]

        page.click("#tpl-tab-sms-ar")
        assert page.get_attribute("#tpl-tab-sms-ar", "aria-selected") == "true"
        visible = page.locator("#contents-group .inline-related:visible")
        assert visible.count() == 1
        assert visible.locator("select[name$='-language']").input_value() == "ar"
        page.wait_for_selector("#pane-sms-ar", state="visible")
        assert page.locator("#tpl-panes .tpl-pane:visible").count() == 1

        # The editor and its preview side by side, not one under the other.
        editor = page.locator("#contents-group").bounding_box()
        preview = page.locator("#tpl-preview").bounding_box()
        assert abs(editor["y"] - preview["y"]) < 40
        assert editor["x"] + editor["width"] <= preview["x"] + 1
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 2600, height
        # Keyboard: the arrow moves to the next tab.
        page.focus("#tpl-tab-sms-ar")
        page.keyboard.press("Home")
        assert page.get_attribute("#tpl-tabs [role=tab] >> nth=0", "aria-selected") == (
            "true"
        )
        page.screenshot(path=str(tmp_path / "version-en.png"), full_page=True)

        # A template error marks its tab and opens it after Save.
        field = _field(page, "email", "ar", "subject")
        field.fill(field.input_value() + " {{ x|mony }}")
        page.click("#tpl-tab-sms-en")
        page.click("input[name=_continue]")
        page.wait_for_selector(".tpl-tab-error")
        assert page.get_attribute("#tpl-tab-email-ar", "aria-selected") == "true"
        assert (
            "mony"
            in page.locator("#contents-group .inline-related:visible").inner_text()
        )
    finally:
        context.close()
