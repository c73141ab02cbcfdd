"""Digits and calendar: the filters, who decides, SMS counting and letters."""

import subprocess

import pytest
from django.utils import translation

from templates_app import letters, rendering, services
from templates_app.formats import Formats, formats_resolve
from templates_app.hashing import version_hash
from templates_app.render_limits import RenderError
from templates_app.version_settings import version_formats
from tests.templates_app.conftest import pdf_text

ARABIC_HIJRI = Formats(digits="arabic", calendar="hijri")


def _render(source, data=None, *, language="ar", formats=ARABIC_HIJRI):
    return rendering.render_source(
        source, data or {}, html=False, language=language, formats=formats
    )


def test_arabic_content_reads_hijri_dates_and_arabic_indic_digits():
    text = _render(
        "{{ d|date }} | {{ d|date('full') }} | {{ d|date('short') }}"
        " | {{ a|money }} | {{ n|number(2) }} | {{ ref|digits }}",
        {"d": "2026-03-15", "a": 1234.5, "n": 9876543.21, "ref": "INV-0042"},
    )
    assert text == (
        "٢٦ رمضان ١٤٤٧ هـ | الأحد، ٢٦ رمضان ١٤٤٧ هـ | ١٤٤٧/٠٩/٢٦"
        " | \u200f١٬٢٣٤٫٥٠\xa0ر.س.\u200f | ٩٬٨٧٦٬٥٤٣٫٢١ | INV-٠٠٤٢"
    )


def test_both_calendars_put_the_gregorian_date_beside_the_hijri_one():
    both = Formats(digits="arabic", calendar="both")
    with translation.override("en"):  # the agent's language does not matter
        arabic = _render("{{ d|date }}", {"d": "2026-03-15"}, formats=both)
        english = _render(
            "{{ d|date('full') }}",
            {"d": "2026-03-15"},
            language="en",
            formats=formats_resolve(language="en", template_calendar="both"),
        )
    assert arabic == "٢٦ رمضان ١٤٤٧ هـ الموافق ١٥ مارس ٢٠٢٦"
    assert english == "Sunday, 26 Ramadan 1447 AH, corresponding to March 15, 2026"


def test_the_authors_explicit_filter_wins_over_the_settings():
    text = _render(
        "{{ d|date(calendar='gregorian') }} / {{ d|hijri('medium') }}"
        " / {{ 2026|digits('latin') }}",
        {"d": "2026-03-15"},
        formats=Formats(),
    )
    assert text == "15 مارس 2026 / 26 رمضان 1447 / 2026"


def test_a_hijri_preference_falls_back_to_gregorian_outside_the_tables():
    assert _render("{{ '1900-01-01'|date }}") == "١ يناير ١٩٠٠"
    with pytest.raises(RenderError, match="1924 to 2077"):
        _render("{{ '1900-01-01'|hijri }}")


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("{{ d|date(calendar='julian') }}", "calendar must be one of"),
        ("{{ 5|digits('roman') }}", "digits must be one of"),
        ("{{ [1]|digits }}", r"digits\(\) takes a number or text"),
    ],
)
def test_unknown_calendars_and_digit_styles_are_refused_by_name(source, problem):
    with pytest.raises(RenderError, match=problem):
        _render(source, {"d": "2026-03-15"})


def test_the_customers_preference_wins_and_english_keeps_latin_digits():
    assert formats_resolve(
        language="ar",
        template_digits="latin",
        template_calendar="gregorian",
        customer_digits="arabic",
        customer_calendar="hijri",
    ) == Formats("arabic", "hijri")
    assert formats_resolve(
        language="ar", template_digits="arabic", template_calendar="both"
    ) == Formats("arabic", "both")
    assert formats_resolve(
        language="en", template_digits="arabic", customer_digits="arabic"
    ) == Formats("latin", "gregorian")


@pytest.mark.django_db
def test_digits_and_calendar_are_frozen_on_the_version_and_hashed(demo):
    version = demo["policy-renewal-letter"].versions.get()
    assert (version.digits, version.calendar) == ("arabic", "gregorian")
    assert version_formats(version, language="ar") == Formats("arabic", "gregorian")
    before = version_hash(version)
    version.calendar = "hijri"
    assert version_hash(version) != before
    # A version hashed before the formats were covered keeps its approved look.
    version.hash_scheme = 2
    assert version_formats(version, language="ar") == Formats()


def _sms(source, *, language="ar", formats=ARABIC_HIJRI):
    return rendering.render_content(
        channel="sms",
        language=language,
        sources={"sms_text": source},
        data={"n": 1234567},
        formats=formats,
    ).sms


def test_sms_with_arabic_indic_digits_is_counted_as_ucs2():
    assert _sms("Code {{ n|digits('latin') }}", language="en")["encoding"] == "GSM-7"
    arabic_digits = _sms("Code {{ n|digits('arabic') }}", language="en")
    assert arabic_digits["encoding"] == "UCS-2"
    # 70 Arabic-Indic digits fill one UCS-2 segment; 71 need two of 67.
    assert _sms("{{ ('1' * 70)|digits }}") == {
        "encoding": "UCS-2",
        "characters": 70,
        "units": 70,
        "segments": 1,
        "max_segments": 3,
        "over_limit": False,
    }
    assert _sms("{{ ('1' * 71)|digits }}")["segments"] == 2
    assert _sms("{{ ('1' * 135)|digits }}")["segments"] == 3


@pytest.mark.django_db
def test_the_arabic_letter_prints_a_hijri_date_and_arabic_indic_digits(demo, tmp_path):
    version = demo["policy-renewal-letter"].versions.get()
    content = version.contents.get(channel="letter", language="ar")
    rendered = rendering.render_content(
        channel="letter",
        language="ar",
        sources=content.sources(),
        data=version.template.sample_data,
        blocks=services.blocks_by_language(version)["ar"],
        formats=version_formats(version, language="ar"),
    )
    letter = letters.letter_pdf(
        rendered.parts["letter_html"],
        language="ar",
        css=rendered.parts["letter_css"],
    )
    text = pdf_text(letter.pdf)
    # 20 July 2025 is 25 Muharram 1447 in the Umm al-Qura calendar.
    for piece in ("محرم", "هـ", "الموافق", "يوليو", "٣٬٤٨٠٫٠٠", "سبتمبر"):
        assert piece in text, (piece, text)
    for digits in ("٢٥", "١٤٤٧", "٢٠٢٥"):
        assert digits in text, (digits, text)
    assert "3,480" not in text and "1447" not in text
    fonts = subprocess.run(
        ["pdffonts", "-"], input=letter.pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "Amiri" in fonts or "NotoNaskhArabic" in fonts, fonts
    # The page rasterises (poppler reads the embedded Arabic font).
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-",
            str(tmp_path / "p"),
        ],
        input=letter.pdf,
        check=True,
        timeout=60,
    )
    assert (tmp_path / "p-1.png").stat().st_size > 10_000
