"""The console in the agent's language and time zone: labels, names, own times."""

import re
from datetime import timedelta

import pytest

from ccm.models import UserSettings
from channels_app.models import Dispatch

pytestmark = pytest.mark.django_db


def _timeline_row(page: str, pk: int) -> str:
    return re.search(rf'<tr [^>]*data-dispatch="{pk}".*?</tr>', page, re.S).group(0)


def test_a_resend_row_shows_when_it_was_resent_in_the_agents_zone(
    client, agent, customer, email_dispatch
):
    client.force_login(agent)
    client.post(
        f"/agent/dispatches/{email_dispatch.pk}/resend",
        {"resend-reason": "customer lost it", "resend-once": "form-1"},
    )
    resend = Dispatch.objects.get(resend_of=email_dispatch)
    # The original went out two days before the resend.
    original_at = resend.created - timedelta(days=2)
    Dispatch.objects.filter(pk=email_dispatch.pk).update(created=original_at)
    email_dispatch.communication.__class__.objects.filter(
        pk=email_dispatch.communication_id
    ).update(created=original_at)

    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    riyadh = resend.created + timedelta(hours=3)
    assert f"{riyadh:%Y-%m-%d %H:%M} +03" in _timeline_row(page, resend.pk)
    assert f"{original_at + timedelta(hours=3):%Y-%m-%d %H:%M} +03" in (
        _timeline_row(page, email_dispatch.pk)
    )
    assert "Asia/Riyadh" in page


def test_an_agent_in_another_zone_reads_times_there(
    client, agent, customer, email_dispatch
):
    UserSettings.objects.create(user=agent, time_zone="Europe/London")
    client.force_login(agent)

    page = client.get(f"/agent/customers/{customer.pk}/").content.decode()

    row = _timeline_row(page, email_dispatch.pk)
    assert f"{email_dispatch.created:%Y-%m-%d %H:%M} GMT" in row


def test_an_arabic_agent_reads_template_names_and_audit_actions_in_arabic(
    client, agent, customer, email_dispatch
):
    UserSettings.objects.create(user=agent, language="ar")
    client.force_login(agent)
    template = email_dispatch.communication.template_version.template
    template.name_ar = "تذكير بالدفع"
    template.save(update_fields=["name_ar"])

    timeline = client.get(f"/agent/customers/{customer.pk}/").content.decode()
    copy = client.get(f"/agent/dispatches/{email_dispatch.pk}/").content.decode()

    assert "<bdi>تذكير بالدفع</bdi>" in _timeline_row(timeline, email_dispatch.pk)
    assert "تذكير بالدفع" in copy
    assert ">channels.dispatch.queued<" not in copy
    assert 'title="channels.dispatch.queued">وُضعت إرسالية' in copy
