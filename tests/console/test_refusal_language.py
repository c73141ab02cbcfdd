"""An agent reads the console's refusals in their own language, with the same code."""

import re

import pytest

from ccm.models import UserSettings
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from console import services
from tests.console.conftest import reminder_data

pytestmark = pytest.mark.django_db

ARABIC = re.compile(r"[\u0600-\u06ff]")


@pytest.fixture
def queued(templates, customer) -> Dispatch:
    communication = communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
        source_system="core-banking",
        source_reference="INV-1",
    )
    return communication.dispatches.get()


def test_a_resend_refused_in_the_console_reads_in_arabic(client, agent, queued):
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)

    response = client.post(
        f"/agent/dispatches/{queued.pk}/resend",
        {"resend-reason": "طلب العميل", "resend-once": "form-1"},
    )

    assert response.status_code == 400
    errors = response.context["resend_form"].non_field_errors()
    assert len(errors) == 1 and ARABIC.search(errors[0]), errors
    assert str(queued.pk) in errors[0]
    assert "has not been sent" not in errors[0]


def test_the_console_refusal_keeps_its_code(agent, queued):
    with pytest.raises(services.ConsoleActionRefused) as refused:
        services.dispatch_resend(dispatch=queued, actor=agent, reason="asked")

    assert refused.value.code == "console.resend.not_sent"
    assert str(refused.value) == (
        f"Dispatch #{queued.pk} is still Queued; it has not been sent yet."
    )
