"""The evidence PDF alone shows what the customer received: email HTML, letter."""

import copy
import hashlib
import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.utils import translation

from ccm.models import UserSettings
from console.evidence import evidence_bundle, evidence_pdf
from templates_app.emails import sanitise_html
from tests.console.conftest import pdf_text, pdf_words, title_edges

pytestmark = pytest.mark.django_db

# Wording the customer read only in the HTML part: the stored text part never
# carries it.
HTML_ONLY = "Pay online before 15 July 2025 to keep your cover"
HTML_ONLY_AR = "ادفعوا عبر الإنترنت قبل 15 يوليو 2025 لتبقى تغطيتكم سارية"


def _store_html(
    dispatch, html: str, *, language: str | None = None, remote_images=False
):
    """Give a sent email a stored HTML part, sanitised as the product stores it."""
    dispatch.body_html = sanitise_html(html, remote_images=remote_images)
    dispatch.language = language or dispatch.language
    dispatch.save(update_fields=["body_html", "language"])
    return dispatch


def _evidence(client, dispatch) -> bytes:
    response = client.get(
        f"/agent/dispatches/{dispatch.pk}/evidence", {"format": "pdf"}
    )
    assert response["Content-Type"] == "application/pdf"
    return response.content


def _attachments(pdf: bytes, folder: Path) -> dict[str, bytes]:
    """Return the files attached to a PDF, by name, as a PDF viewer saves them."""
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


def test_an_email_evidence_pdf_shows_the_html_part_as_sent_and_attaches_it(
    client, agent, email_dispatch, tmp_path
):
    _store_html(
        email_dispatch,
        "<p>Dear Reem Al-Harbi,</p>"
        f'<p style="color:#b00000"><strong>{HTML_ONLY}.</strong></p>'
        '<table><tr><td>Instalment</td><td dir="ltr">SAR 1,250.50</td></tr></table>',
    )
    assert HTML_ONLY not in email_dispatch.body_text
    client.force_login(agent)

    pdf = _evidence(client, email_dispatch)

    text = pdf_text(pdf)
    assert f"{HTML_ONLY}." in text
    # The text part as stored follows the HTML part.
    text_part = text[text.index("Text part") :]
    assert text.index(HTML_ONLY) < text.index("Text part")
    assert "If you have already paid" in text_part
    assert "If you have already paid" in email_dispatch.body_text
    name = f"email-dispatch-{email_dispatch.pk}.html"
    attached = _attachments(pdf, tmp_path)
    assert list(attached) == [name]
    assert attached[name] == email_dispatch.body_html.encode()
    assert name in text
    sha256 = hashlib.sha256(attached[name]).hexdigest()
    assert sha256 in text.replace("\n", "")


@pytest.mark.parametrize(
    ("agent_language", "email_language", "wording", "runs"),
    [
        ("ar", "en", HTML_ONLY, "ltr"),
        ("en", "ar", HTML_ONLY_AR, "rtl"),
    ],
)
def test_the_email_box_runs_in_the_emails_direction_whatever_the_packs(
    client, agent, email_dispatch, agent_language, email_language, wording, runs
):
    _store_html(email_dispatch, f"<p>{wording}</p>", language=email_language)
    UserSettings.objects.create(user=agent, language=agent_language)
    client.force_login(agent)

    pdf = _evidence(client, email_dispatch)

    width, words = pdf_words(pdf)
    # The pack's title sits at the start of the pack's own direction.
    title_left, title_right = title_edges(words)
    if agent_language == "ar":
        assert title_right > width * 0.85
    else:
        assert title_left < width * 0.15
    # pdftotext spells a right-to-left word in visual order.
    first_word = wording.split()[0]
    word = next(word for word in words if word.text in (first_word, first_word[::-1]))
    if runs == "rtl":
        assert word.right > width * 0.8
    else:
        assert word.left < width * 0.2


def test_an_emails_remote_image_is_not_fetched_when_the_evidence_pdf_renders(
    client, agent, email_dispatch
):
    requests: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            requests.append(self.path)
            self.send_response(404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    logo = f"http://127.0.0.1:{server.server_port}/x.png"
    try:
        _store_html(
            email_dispatch,
            f'<p><img src="{logo}" alt="Insurer logo"></p><p>{HTML_ONLY}</p>',
            remote_images=True,  # a category that allows them
        )
        assert logo in email_dispatch.body_html
        client.force_login(agent)

        pdf = _evidence(client, email_dispatch)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    assert requests == []
    text = pdf_text(pdf)
    assert HTML_ONLY in text
    # The pack names the image it did not load.
    assert logo in text.replace("\n", "")


def test_a_stored_emails_styles_neither_hide_nor_widen_the_pack(
    client, agent, email_dispatch
):
    # Older or imported copies may hold what sanitising now removes.
    email_dispatch.body_html = (
        "<style>body, .dispatch, table { display: none }</style>"
        '<div class="dispatch"><p style="width: 400mm">'
        f"{HTML_ONLY}; {HTML_ONLY}; {HTML_ONLY}.</p></div>"
        '<table style="width: 400mm"><tr><td style="width: 300mm">Instalment</td>'
        "<td>Outstanding</td></tr></table>"
    )
    email_dispatch.save(update_fields=["body_html"])
    client.force_login(agent)

    pdf = _evidence(client, email_dispatch)

    text = pdf_text(pdf)
    assert "Audit events" in text and f"#{email_dispatch.pk}" in text
    # Wide paragraphs and tables fit the page: every word of them is on it.
    width, words = pdf_words(pdf, last=99)
    shown = [word for word in words if word.text.startswith(("cover", "Outstanding"))]
    assert len(shown) == 4
    assert max(word.right for word in shown) < width * 0.95


def test_a_letter_evidence_pdf_carries_the_letter_as_sent_byte_for_byte(
    client, agent, letter_dispatch, tmp_path
):
    client.force_login(agent)
    url = f"/agent/dispatches/{letter_dispatch.pk}/evidence"
    bundle = json.loads(client.get(url).content)
    stored = bundle["dispatches"][0]["copy"]["letter_pdf_sha256"]

    pdf = _evidence(client, letter_dispatch)

    name = f"letter-dispatch-{letter_dispatch.pk}.pdf"
    (tmp_path / "evidence.pdf").write_bytes(pdf)
    listing = subprocess.run(
        ["pdfdetach", "-list", str(tmp_path / "evidence.pdf")],
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert f"1: {name}" in listing
    letter = _attachments(pdf, tmp_path)[name]
    with letter_dispatch.letter_pdf.open("rb") as handle:
        assert letter == handle.read()
    assert hashlib.sha256(letter).hexdigest() == stored
    assert "HM-778201" in pdf_text(letter)
    text = pdf_text(pdf)
    assert "The exact letter as sent is attached to this PDF" in text
    assert name in text
    assert stored in text.replace("\n", "")
    assert "JSON bundle (base64)" not in text


def test_a_customer_evidence_pdf_attaches_each_dispatchs_copy_and_keeps_the_bundle(
    client, agent, customer, email_dispatch, letter_dispatch, tmp_path
):
    bundle = evidence_bundle(
        dispatches=[email_dispatch, letter_dispatch], customer=customer, actor=agent
    )
    before = copy.deepcopy(bundle)

    with translation.override("en"):
        pdf = evidence_pdf(bundle)

    assert bundle == before
    assert set(_attachments(pdf, tmp_path)) == {
        f"email-dispatch-{email_dispatch.pk}.html",
        f"letter-dispatch-{letter_dispatch.pk}.pdf",
    }
