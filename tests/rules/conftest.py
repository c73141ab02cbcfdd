"""Builders for the rules tests: approved demo templates, customers, rules."""

from datetime import UTC, datetime, time

import pytest

from channels_app.dispatching import communication_trigger
from customers.services import customer_upsert
from tests.factories import rule_build

REMINDER = {
    "customer": {"name": "Fatimah Al-Harbi"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}
PASSCODE = {"code": "482913", "expires_minutes": 5}


def at(text: str) -> datetime:
    """Return a UTC instant from 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def templates(demo_templates):
    return demo_templates


@pytest.fixture
def customer(db):
    return customer_build("C-1")


def customer_build(external_id: str, *, time_zone: str = "UTC"):
    customer, _ = customer_upsert(
        external_id=external_id,
        name="Fatimah Al-Harbi",
        language="en",
        time_zone=time_zone,
        email=f"{external_id.lower()}@example.com",
        phone="+966501234567",
        postal_address="12 Olaya St, Riyadh",
    )
    return customer


def trigger(customer, template_code: str = "payment-reminder", **fields):
    data = PASSCODE if template_code == "one-time-passcode" else REMINDER
    defaults = {
        "data": data,
        "requester_label": "core-banking",
        "source_system": "core-banking",
        "channels": ["sms"],
    }
    return communication_trigger(
        customer=customer, template_code=template_code, **{**defaults, **fields}
    )


def sms_quiet_hours(**fields):
    return rule_build(
        **{
            "name": "SMS quiet hours",
            "kind": "quiet_hours",
            "channel": "sms",
            "quiet_start": time(21),
            "quiet_end": time(8),
            "exempt_mandatory": True,
            **fields,
        }
    )


def cap(count: int, hours: int, mode: str = "suppress", **fields):
    return rule_build(
        **{
            "name": f"At most {count} per {hours} h ({mode})",
            "kind": "frequency_cap",
            "categories": "collections",
            "cap_count": count,
            "window_hours": hours,
            "cap_mode": mode,
            **fields,
        }
    )


def dedupe(hours: int = 24, **fields):
    return rule_build(
        **{"name": "Once a day", "kind": "dedupe", "window_hours": hours, **fields}
    )
