"""Builders for the console tests: agents, a customer, real rendered dispatches."""

import re
import subprocess
from typing import NamedTuple

import pytest
from django.contrib.auth.models import Permission

from ccm.roles import AGENT, AUTHOR, OPERATOR, REVIEWER
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from customers.models import PreferenceEntry
from customers.services import customer_upsert, preference_set
from tests.factories import user_build

PASSWORD = "pw-12345!x"


@pytest.fixture
def templates(demo_templates):
    return demo_templates


@pytest.fixture
def agent(db):
    return user_build(username="aisha", role=AGENT, first_name="Aisha")


@pytest.fixture
def operator(db):
    return user_build(username="omar", role=OPERATOR)


@pytest.fixture
def author(db):
    return user_build(username="amira", role=AUTHOR)


@pytest.fixture
def reviewer(db):
    return user_build(username="rami", role=REVIEWER)


@pytest.fixture
def masked_agent(db):
    """An agent who may use the console but not unmask contact data."""
    user = user_build(username="masked")
    user.user_permissions.add(
        Permission.objects.get(
            content_type__app_label="console", codename="use_console"
        )
    )
    return user


@pytest.fixture
def customer(db):
    customer, _ = customer_upsert(
        external_id="CUST-77001",
        name="Reem Al-Harbi",
        email="reem.harbi@example.com",
        phone="0501234567",
        language="en",
        postal_address="12 King Fahd Road\nRiyadh 12271",
    )
    return customer


def reminder_data(customer, **changes) -> dict:
    return {
        "customer": {"name": customer.name},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2025-07-15",
        **changes,
    }


def renewal_data(customer) -> dict:
    return {
        "customer": {"name": customer.name, "address": ["12 King Fahd Road"]},
        "policy_number": "HM-778201",
        "product": "Home Comprehensive",
        "renewal_date": "2025-09-01",
        "premium": 3480,
        "currency": "SAR",
        "letter_date": "2025-07-20",
    }


def sent(dispatch: Dispatch) -> Dispatch:
    """Mark a queued dispatch sent and delivered the way the outbox does."""
    from channels_app import outbox, services

    outbox.dispatches_claim(limit=100)
    outbox.dispatches_send(ids=[dispatch.pk])
    dispatch.refresh_from_db()
    services.dispatch_receipt_record(
        dispatch=dispatch, event="delivered", provider="test receipts"
    )
    dispatch.refresh_from_db()
    return dispatch


@pytest.fixture
def email_dispatch(templates, customer, settings, tmp_path) -> Dispatch:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
        source_system="core-banking",
        source_reference="INV-2231",
    )
    return sent(communication.dispatches.get())


@pytest.fixture
def letter_dispatch(templates, customer, settings) -> Dispatch:
    communication = communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=renewal_data(customer),
        channels=["letter"],
        requester_label="policy-admin",
        source_system="policy-admin",
        source_reference="POL-778201",
    )
    return communication.dispatches.get()


def email_choice_record(customer, *, opted_in: bool = False) -> None:
    """Record, as the contact center would, the customer's choice on email."""
    preference_set(
        customer=customer,
        channel="email",
        opted_in=opted_in,
        source=PreferenceEntry.Source.CONTACT_CENTER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
    )


def pdf_text(pdf: bytes) -> str:
    """Return a PDF's text (pdftotext), without the bidi controls it adds."""
    result = subprocess.run(
        ["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return result.stdout.decode().translate(dict.fromkeys(range(0x202A, 0x202F)))


class PdfWord(NamedTuple):
    text: str
    left: float
    right: float
    top: float


def pdf_words(pdf: bytes, *, last: int = 1) -> tuple[float, list[PdfWord]]:
    """Return the page width and the words up to page `last`, in reading order.

    pdftotext spells a right-to-left word in visual order.
    """
    result = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", str(last), "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    html = result.stdout.decode()
    width = float(re.search(r'<page width="([\d.]+)"', html).group(1))
    words = re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" '
        r'yMax="[\d.]+">([^<]*)</word>',
        html,
    )
    return width, [
        PdfWord(text, float(left), float(right), float(top))
        for left, top, right, text in words
    ]


def title_edges(words: list[PdfWord]) -> tuple[float, float]:
    """Return the left and right edges of the first line (a page's title)."""
    line = [word for word in words if word.top == words[0].top]
    return min(word.left for word in line), max(word.right for word in line)
