"""The inventory page: usage from dispatches, filters, CSV, Arabic, permissions."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from ccm.models import UserSettings
from ccm.roles import AGENT
from channels_app.models import DispatchStatusChange
from customers.services import customer_upsert
from inventory.analysis import inventory_analyse
from inventory.models import InventoryItem
from templates_app import selectors
from tests.factories import dispatch_build, user_build
from tests.inventory.conftest import email

pytestmark = pytest.mark.django_db

PAGE = "/admin/inventory/inventoryitem/"


def _sent(version, customer, *, days_ago: float, complaint: bool = False):
    dispatch = dispatch_build(version=version, customer=customer)
    DispatchStatusChange.objects.create(
        dispatch=dispatch,
        status="sent",
        at=timezone.now() - timedelta(days=days_ago),
    )
    if complaint:
        from console.services import feedback_record

        feedback_record(
            dispatch=dispatch,
            kind="complaint",
            severity="low",
            text="The amount is wrong.",
            actor=user_build(username=f"agent-{dispatch.pk}", role=AGENT),
        )
    return dispatch


@pytest.fixture
def customer(db):
    customer, _ = customer_upsert(
        external_id="CUST-1", name="Reem", email="reem@example.com", language="en"
    )
    return customer


@pytest.fixture
def sent_history(demo_templates, customer):
    reminder = selectors.version_in_force(demo_templates["payment-reminder"])
    renewal = selectors.version_in_force(demo_templates["policy-renewal-letter"])
    for days in (1, 2, 40, 200):
        _sent(reminder, customer, days_ago=days, complaint=days == 2)
    _sent(renewal, customer, days_ago=400)
    return inventory_analyse()


def test_usage_counts_sends_in_30_and_365_days_and_the_last_send(sent_history):
    reminder = InventoryItem.objects.get(code="payment-reminder")
    renewal = InventoryItem.objects.get(code="policy-renewal-letter")
    passcode = InventoryItem.objects.get(code="one-time-passcode")

    assert (reminder.sent_30, reminder.sent_365) == (2, 4)
    assert (reminder.complaints_365, reminder.complaint_rate) == (1, 0.25)
    assert timezone.now() - reminder.last_sent < timedelta(days=1, minutes=5)
    assert (renewal.sent_30, renewal.sent_365) == (0, 0)
    assert renewal.last_sent is not None
    assert passcode.last_sent is None
    assert reminder.version_number == 1 and reminder.last_approved is not None
    assert "legal-footer" in reminder.blocks
    assert reminder.languages == "ar, en"


def test_blocks_show_the_templates_in_force_that_use_them(sent_history):
    footer = InventoryItem.objects.get(kind="block", code="legal-footer")

    assert footer.used_by == 2
    assert footer.sent_365 == 4


def test_the_page_lists_sorts_and_filters_stale_templates(
    client, operator, sent_history
):
    client.force_login(operator)

    # Sent in 365 days, most first.
    page = client.get(PAGE, {"o": "-11", "kind__exact": "template"})
    assert page.status_code == 200
    codes = [item.code for item in page.context["cl"].result_list]
    assert codes[0] == "payment-reminder"

    never = client.get(PAGE, {"not_sent_days": "never", "kind__exact": "template"})
    never_codes = {item.code for item in never.context["cl"].result_list}
    assert "one-time-passcode" in never_codes
    assert "payment-reminder" not in never_codes

    stale = client.get(PAGE, {"not_sent_days": "300", "kind__exact": "template"})
    stale_codes = {item.code for item in stale.context["cl"].result_list}
    assert "policy-renewal-letter" in stale_codes
    assert "payment-reminder" not in stale_codes

    unused = client.get(PAGE, {"block_use": "unused"})
    assert {i.code for i in unused.context["cl"].result_list} == set()

    bad = client.get(PAGE, {"not_sent_days": "lots"})
    assert bad.status_code == 200
    assert list(bad.context["cl"].result_list) == []


def test_csv_export_follows_the_filters_and_neutralises_formulas(
    client, operator, template_make
):
    template_make(
        "formula",
        {("email", "en"): email("Hello", "A harmless letter with enough words in it.")},
        name='=HYPERLINK("http://evil.example","click")',
    )
    template_make(
        "plain",
        {("email", "en"): email("Hello", "Another letter, unrelated, with words.")},
    )
    inventory_analyse()
    client.force_login(operator)

    response = client.get(PAGE + "export/", {"q": "formula"})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0][:3] == ["kind", "code", "name"]
    assert len(rows) == 2
    assert rows[1][1] == "formula"
    assert rows[1][2].startswith("'=HYPERLINK")


def test_the_page_is_arabic_and_right_to_left_for_an_arabic_user(
    client, operator, sent_history
):
    UserSettings.objects.update_or_create(user=operator, defaults={"language": "ar"})
    client.force_login(operator)

    page = client.get(PAGE)

    assert b'dir="rtl"' in page.content
    assert "تصدير CSV".encode() in page.content
    # Template and category names as an Arabic reader knows them.
    reminder = InventoryItem.objects.get(code="payment-reminder")
    html = page.content.decode()
    assert reminder.template.name_ar and reminder.template.category.name_ar
    assert f"<bdi>{reminder.template.name_ar}</bdi>" in html
    assert f"<bdi>{reminder.template.category.name_ar}</bdi>" in html
    assert f"<bdi>{reminder.template.name}</bdi>" not in html


def test_users_without_the_inventory_permission_are_refused(client, sent_history):
    agent = user_build(username="aisha", role=AGENT)
    client.force_login(agent)

    assert client.get(PAGE).status_code == 403
    assert client.get(PAGE + "export/").status_code == 403


def test_the_page_says_when_no_analysis_has_run(client, operator):
    client.force_login(operator)

    page = client.get(PAGE)

    assert page.status_code == 200
    assert b"No analysis has finished yet." in page.content


def test_an_operator_queues_an_analysis_and_an_author_may_not(
    client, operator, author, django_capture_on_commit_callbacks
):
    from ccm.celery import app
    from inventory.models import InventoryRun

    eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        client.force_login(operator)
        assert client.get(PAGE + "run/").status_code == 405
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(PAGE + "run/")
    finally:
        app.conf.task_always_eager = eager

    assert response.status_code == 302
    run = InventoryRun.objects.get()
    assert run.status == InventoryRun.Status.FINISHED
    assert run.requested_by == operator

    client.force_login(author)
    assert client.post(PAGE + "run/").status_code == 403
