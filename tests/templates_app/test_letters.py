"""PDF letters: Arabic and English text in order, and no outside fetches."""

import base64
import io
import subprocess

import pytest
from PIL import Image

from templates_app import letters, rendering, services
from tests.templates_app.conftest import pdf_text


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()
PNG_B64 = base64.b64encode(PNG).decode()


def _letter(version, language):
    content = version.contents.get(channel="letter", language=language)
    rendered = rendering.render_content(
        channel="letter",
        language=language,
        sources=content.sources(),
        data=version.template.sample_data,
        blocks=services.blocks_by_language(version)[language],
    )
    return letters.letter_pdf(
        rendered.parts["letter_html"],
        language=language,
        css=rendered.parts["letter_css"],
    )


def _in_order(text: str, *pieces: str) -> bool:
    positions = [text.find(piece) for piece in pieces]
    return -1 not in positions and positions == sorted(positions)


@pytest.mark.django_db
def test_english_renewal_letter_has_its_content_in_order(demo):
    version = demo["policy-renewal-letter"].versions.get()
    letter = _letter(version, "en")
    assert letter.pdf.startswith(b"%PDF")
    assert letter.pages == 1
    text = pdf_text(letter.pdf)
    assert _in_order(
        text,
        "Gulf Mutual Insurance",
        "July 20, 2025",
        "Omar Al-Qahtani",
        "Renewal of your Home Comprehensive policy",
        "Your policy HM-778201 renews on September 1, 2025",
        "SAR3,480.00",
        "Yours sincerely",
        "licensed by the Insurance Authority",
    ), text


@pytest.mark.django_db
def test_arabic_renewal_letter_has_its_content_in_order(demo):
    version = demo["policy-renewal-letter"].versions.get()
    letter = _letter(version, "ar")
    text = pdf_text(letter.pdf)
    # pdftotext moves digits next to Arabic words around, so numbers are
    # asserted on their own; the words keep their logical order.
    assert _in_order(
        text,
        "الخليج للتأمين التعاوني",
        "يوليو",
        "Omar Al-Qahtani",
        "Building 12, Al Olaya Street",
        "تجديد وثيقة Home Comprehensive",
        "عزيزي/عزيزتي",
        "تتجدد وثيقتكم رقم",
        "HM-778201",
        "سبتمبر",
        "وسيكون القسط السنوي",
        "3,480.00",
        "مع خالص التحية",
        "خدمة العملاء",
        "مرخصة من هيئة التأمين",
    ), text
    assert "2025" in text


def test_arabic_letter_is_right_to_left_with_named_arabic_fonts():
    document = letters.letter_document("<p>مرحبا</p>", language="ar")
    assert 'dir="rtl"' in document and 'lang="ar"' in document
    assert '"Amiri"' in letters.BASE_CSS and '"Noto Naskh Arabic"' in letters.BASE_CSS
    pdf = letters.letter_pdf("<p>مرحبا بكم</p>", language="ar").pdf
    fonts = subprocess.run(
        ["pdffonts", "-"], input=pdf, capture_output=True, check=True, timeout=30
    ).stdout.decode()
    assert "Amiri" in fonts or "NotoNaskhArabic" in fonts, fonts


def test_letter_never_fetches_files_or_network():
    body = (
        "<p>Statement</p>"
        '<img src="file:///etc/passwd">'
        '<img src="http://example.com/logo.png">'
        '<img src="https://example.com/logo.png">'
        '<iframe src="file:///etc/passwd"></iframe>'
        '<object data="file:///etc/passwd"></object>'
        '<link rel="stylesheet" href="file:///etc/passwd">'
        '<img src="/static/../../../../etc/passwd">'
        '<img src="//example.com/x.png">'
    )
    css = (
        "@import url('file:///etc/passwd');\n"
        "@import url('http://example.com/evil.css');\n"
        "@font-face { font-family: X; src: url('file:///etc/passwd'); }\n"
        "body { background: url('http://example.com/bg.png'); }"
    )
    letter = letters.letter_pdf(body, language="en", css=css)
    text = pdf_text(letter.pdf)
    assert "Statement" in text
    assert "root:" not in text
    assert b"root:x:0:0" not in letter.pdf
    refused = set(letter.refused_urls)
    assert "file:///etc/passwd" in refused
    assert "http://example.com/logo.png" in refused
    assert "https://example.com/logo.png" in refused
    assert "http://example.com/evil.css" in refused
    assert "http://example.com/bg.png" in refused
    assert any(
        url.endswith("/etc/passwd") and url.startswith("https://letter.invalid")
        for url in refused
    )


def test_a_letters_own_css_refusals_are_reported_each_time_it_is_used():
    """The letter CSS is parsed once per process; its refusals still show."""
    css = "@import url('http://example.com/evil.css');\nh1 { color: #1d4e89; }"

    first = letters.letter_pdf("<h1>Renewal</h1>", language="en", css=css)
    second = letters.letter_pdf("<h1>Renewal</h1>", language="en", css=css)

    assert "http://example.com/evil.css" in first.refused_urls
    assert second.refused_urls == first.refused_urls
    assert pdf_text(second.pdf) == pdf_text(first.pdf)


def test_letter_uses_data_uris_and_the_products_static_files(tmp_path, settings):
    static_dir = tmp_path / "static"
    (static_dir / "templates_app").mkdir(parents=True)
    (static_dir / "templates_app" / "stamp.png").write_bytes(PNG)
    settings.STATICFILES_DIRS = [static_dir]
    from django.contrib.staticfiles import finders

    finders.get_finder.cache_clear()
    try:
        letter = letters.letter_pdf(
            f'<img src="data:image/png;base64,{PNG_B64}">'
            '<img src="/static/templates_app/stamp.png"><p>ok</p>',
            language="en",
        )
    finally:
        finders.get_finder.cache_clear()
    assert letter.refused_urls == []
    images = subprocess.run(
        ["pdfimages", "-list", "-"],
        input=letter.pdf,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout.decode()
    assert len(images.strip().splitlines()) - 2 == 2, images


def test_fetcher_refuses_redirects_and_other_schemes():
    fetcher = letters._resources()["fetcher"]
    for url in ("ftp://example.com/x", "file:///etc/hostname", "http://127.0.0.1/"):
        with pytest.raises(letters.FetchRefused):
            fetcher.fetch(url)
