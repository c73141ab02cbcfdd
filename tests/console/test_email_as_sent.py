"""What the console shows of an email is the HTML part the customer received."""

import hashlib
import json
import re
import subprocess
from html import unescape
from pathlib import Path

import pytest

from channels_app.dispatching import communication_trigger
from channels_app.outbox import outbox_pump
from customers.services import customer_upsert
from tests.console.conftest import pdf_text, reminder_data
from tests.factories import approved_version_build, dispatch_build

pytestmark = pytest.mark.django_db

CASES = {
    "ar": {
        "dir": "rtl",
        "align": "right",
        "subject": "موعد سداد قسط الوثيقة MT-204518",
        "subject_words": "موعد سداد قسط الوثيقة",
        "text": "عزيزي/عزيزتي ريم الحربي،",
        "name": "ريم الحربي",
    },
    "en": {
        "dir": "ltr",
        "align": "left",
        "subject": "Your payment for policy MT-204518 is due",
        "subject_words": "Your payment for policy",
        "text": "Dear Reem Al-Harbi,",
        "name": "Reem Al-Harbi",
    },
}


def _sent_email(smtp_sink, language: str):
    """Trigger a payment reminder, send it through SMTP; return it and what arrived."""
    case = CASES[language]
    customer, _ = customer_upsert(
        external_id=f"CUST-{language}",
        name=case["name"],
        email=f"reem.{language}@example.com",
        language=language,
    )
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    )
    assert outbox_pump() == {"sent": 1}
    dispatch = communication.dispatches.get()
    # The workflow's own notices (to the template's author) may be there too.
    [received] = [
        m for m in smtp_sink.messages if m["X-CCM-Dispatch"] == str(dispatch.pk)
    ]
    return dispatch, received


def _frame_copy(client, dispatch) -> bytes:
    """Return the bytes the console's email frame loads for a dispatch."""
    page = client.get(f"/agent/dispatches/{dispatch.pk}/").content.decode()
    frame = re.search(r'<iframe id="email-html"[^>]*>', page).group(0)
    assert " sandbox" in frame
    source = re.search(r' src="([^"]+)"', frame)
    assert source, f"the email frame loads no stored copy: {frame[:120]}"
    response = client.get(unescape(source.group(1)))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    # The copy may load nothing (no tracking pixel) and run nothing.
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "sandbox" in policy
    return response.content


def _attachments(pdf: bytes, folder: Path) -> dict[str, bytes]:
    source = folder / "evidence.pdf"
    source.write_bytes(pdf)
    saved = folder / "attached"
    saved.mkdir()
    subprocess.run(
        ["pdfdetach", "-saveall", "-o", str(saved), str(source)],
        capture_output=True,
        check=True,
    )
    return {path.name: path.read_bytes() for path in saved.iterdir()}


@pytest.mark.parametrize("language", ["ar", "en"])
def test_the_email_arrives_in_its_language_direction_and_the_console_shows_those_bytes(
    client, agent, templates, smtp_sink, tmp_path, language
):
    case = CASES[language]
    dispatch, received = _sent_email(smtp_sink, language)

    # What the customer's mail program reads.
    assert received["Content-Language"] == language
    assert received["Subject"].startswith(case["subject"])
    assert received.get_body(("plain",)).get_content().startswith(case["text"])
    html_part = received.get_body(("html",))
    assert html_part.get_content_charset() == "utf-8"
    sent = html_part.get_payload(decode=True)
    document = sent.decode()
    assert document.startswith("<!DOCTYPE html>")
    assert f'<html lang="{language}" dir="{case["dir"]}">' in document
    assert f'<body dir="{case["dir"]}" style="text-align:{case["align"]};' in document
    assert case["text"] in document

    # The stored copy, its hash and the console's frame are those bytes.
    dispatch.refresh_from_db()
    assert dispatch.body_html.encode() == sent
    client.force_login(agent)
    assert _frame_copy(client, dispatch) == sent

    # So are the evidence pack's JSON and the file its PDF carries.
    bundle = json.loads(client.get(f"/agent/dispatches/{dispatch.pk}/evidence").content)
    [entry] = bundle["dispatches"]
    assert entry["copy"]["html"].encode() == sent
    assert entry["copy"]["content_sha256"] == dispatch.content_sha256
    pdf = client.get(
        f"/agent/dispatches/{dispatch.pk}/evidence", {"format": "pdf"}
    ).content
    attached = _attachments(pdf, tmp_path)
    assert attached == {f"email-dispatch-{dispatch.pk}.html": sent}
    # The pack shows the subject once: the document's title does not spill
    # into the email laid out in it.
    assert pdf_text(pdf).count(case["subject_words"]) == 1


def test_the_content_hash_covers_the_document_as_sent(templates, smtp_sink):
    dispatch, received = _sent_email(smtp_sink, "ar")
    dispatch.refresh_from_db()

    parts = {
        "subject": dispatch.subject,
        "html": received.get_body(("html",)).get_payload(decode=True).decode(),
        "text": dispatch.body_text,
    }
    digest = hashlib.sha256(
        json.dumps(parts, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    assert dispatch.content_sha256 == digest


def test_a_copy_stored_as_a_bare_fragment_still_shows_in_its_direction(
    client, agent, templates
):
    customer, _ = customer_upsert(
        external_id="CUST-old", name="نورة", email="noura@example.com", language="ar"
    )
    # Stored before copies were whole documents: the body alone.
    dispatch = dispatch_build(
        version=approved_version_build(),
        customer=customer,
        language="ar",
        subject="تذكير",
        body_html="<p>مرحبا نورة</p>",
    )
    client.force_login(agent)

    document = _frame_copy(client, dispatch).decode()

    assert document.startswith("<!DOCTYPE html>")
    assert '<html lang="ar" dir="rtl">' in document
    assert "<title>تذكير</title>" in document
    assert '<body dir="rtl" style="text-align:right;' in document
    assert "<p>مرحبا نورة</p></body></html>" in document


def test_the_email_copy_is_for_console_users_only_and_only_for_emails(
    client, agent, customer, templates, letter_dispatch
):
    email = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    ).dispatches.get()
    url = f"/agent/dispatches/{email.pk}/email.html"

    assert client.get(url).status_code == 302  # to the sign-in page
    client.force_login(agent)
    assert client.get(url).status_code == 200
    assert (
        client.get(f"/agent/dispatches/{letter_dispatch.pk}/email.html").status_code
        == 404
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_an_arabic_email_reads_right_to_left_in_the_console_as_the_customer_got_it(
    live_server, page, smtp_sink, settings
):
    from ccm.roles import AGENT
    from tests.factories import demo_templates_approved, user_build

    demo_templates_approved()
    user_build(username="aisha", role=AGENT, password="pw-12345!x")
    dispatch, received = _sent_email(smtp_sink, "ar")
    sent = received.get_body(("html",)).get_payload(decode=True)

    page.goto(f"{live_server.url}/agent/dispatches/{dispatch.pk}/")
    page.fill("#id_username", "aisha")
    page.fill("#id_password", "pw-12345!x")
    page.click("input[type=submit]")
    page.wait_for_selector("#email-html")
    frame = page.frame_locator("#email-html")
    body = frame.locator("body")
    body.wait_for()

    assert body.evaluate("b => getComputedStyle(b).direction") == "rtl"
    assert body.evaluate("b => getComputedStyle(b).textAlign") == "right"
    assert CASES["ar"]["text"] in body.inner_text()
    copy_url = live_server.url + page.get_attribute("#email-html", "src")
    assert page.request.get(copy_url).body() == sent
    page.locator("#copy").screenshot(path=settings.VAR_DIR / "console-email-ar.png")


def test_through_a_django_mail_backend_the_same_document_goes_out(
    templates, settings, mailoutbox
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    customer, _ = customer_upsert(
        external_id="CUST-ar", name="ريم", email="reem@example.com", language="ar"
    )
    dispatch = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
    ).dispatches.get()

    assert outbox_pump() == {"sent": 1}

    [message] = [m for m in mailoutbox if m.to == ["reem@example.com"]]
    received = message.message()
    assert received["Content-Language"] == "ar"
    dispatch.refresh_from_db()
    html = [part for part in received.walk() if part.get_content_type() == "text/html"]
    assert html[0].get_payload(decode=True) == dispatch.body_html.encode()
    assert '<html lang="ar" dir="rtl">' in dispatch.body_html
