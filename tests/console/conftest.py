"""Builders for the console tests: agents, a customer, real rendered dispatches."""

import pytest
from django.contrib.auth.models import Permission

from ccm.roles import AGENT, AUTHOR, OPERATOR, REVIEWER
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from channels_app.services import customer_upsert
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
