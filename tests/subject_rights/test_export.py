"""The export reads in the customer's language: Arabic right to left."""

import subprocess

import pytest

from customers.services import customer_upsert
from subject_rights.export import customer_export, customer_export_pdf

pytestmark = pytest.mark.django_db

BIDI = dict.fromkeys(range(0x202A, 0x202F))


def _text(pdf: bytes, path) -> str:
    path.write_bytes(pdf)
    extracted = subprocess.run(  # noqa: S603
        ["/usr/bin/pdftotext", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    return extracted.stdout.translate(BIDI)


def test_an_english_customer_gets_an_english_pdf(subject, tmp_path):
    text = _text(
        customer_export_pdf(customer_export(subject.customer)),
        tmp_path / "export-en.pdf",
    )

    assert "What we hold about you" in text
    assert "Huda Al-Qahtani" in text
    assert "came twice" in text  # what they told the contact center


def test_an_arabic_customer_gets_an_arabic_pdf(db, tmp_path):
    customer, _created = customer_upsert(
        external_id="AR-1",
        name="نورة الحربي",
        language="ar",
        email="noura@example.com",
        postal_address="شارع العليا ٧، الرياض",
    )

    text = _text(
        customer_export_pdf(customer_export(customer)), tmp_path / "export-ar.pdf"
    )

    assert "ما نحتفظ به عنك" in text
    assert "الحربي" in text
    assert "noura@example.com" in text
