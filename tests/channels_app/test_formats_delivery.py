"""A customer's digits and calendar reach what is delivered: email and letter."""

import pytest

from channels_app import outbox
from channels_app.dispatching import communication_trigger
from customers import services as customer_services
from tests.templates_app.conftest import pdf_text

pytestmark = pytest.mark.django_db

REMINDER = {
    "customer": {"name": "نورة"},
    "policy_number": "MT-000001",
    "amount": 1250,
    "currency": "SAR",
    "due_date": "2026-03-15",
}


def _customer(**preferences):
    customer, _ = customer_services.customer_upsert(
        external_id="C-AR-1",
        name="نورة القحطاني",
        language="ar",
        email="noura@example.com",
        postal_address="الرياض 12211",
        **preferences,
    )
    return customer


def test_the_email_received_reads_the_customers_hijri_date_and_digits(
    demo_templates, smtp_sink, settings
):
    customer = _customer(digits="arabic", calendar="hijri")
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=REMINDER,
        channels=["email"],
        requester_label="test",
    )
    outbox.outbox_pump()
    assert communication.dispatches.get().status == "sent"
    (message,) = smtp_sink.messages
    subject = str(message["Subject"])
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    # 15 March 2026 is 26 Ramadan 1447 in the Umm al-Qura calendar.
    assert "٢٦ رمضان ١٤٤٧ هـ" in subject
    for body in (text, html):
        assert "٢٦ رمضان ١٤٤٧ هـ" in body
        assert "١٬٢٥٠٫٠٠" in body
        assert "2026" not in body and "1,250" not in body


def test_without_a_preference_the_templates_default_applies(demo_templates, smtp_sink):
    customer = _customer()
    communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=REMINDER,
        channels=["email"],
        requester_label="test",
    )
    outbox.outbox_pump()
    text = smtp_sink.messages[0].get_body(("plain",)).get_content()
    assert "15 مارس 2026" in text and "1,250.00" in text


def test_the_stored_letter_carries_both_calendars_in_arabic_indic_digits(
    demo_templates,
):
    customer = _customer()
    data = demo_templates["policy-renewal-letter"].sample_data  # 20 July 2025
    communication = communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=data,
        channels=["letter"],
        requester_label="test",
    )
    text = pdf_text(communication.dispatches.get().letter_pdf.read())
    # pdftotext may move numbers around Arabic words: each piece on its own.
    for piece in ("محرم", "١٤٤٧", "هـ", "الموافق", "يوليو", "٢٠٢٥", "٣٬٤٨٠٫٠٠"):
        assert piece in text, (piece, text)
