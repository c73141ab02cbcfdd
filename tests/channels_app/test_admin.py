"""Operators work dispatches from the admin: send, retry and cancel with a reason."""

import pytest
from django.contrib.auth.models import Group

from audit.models import AuditEvent
from audit.sealing import event_readable
from ccm.roles import AGENT, OPERATOR
from channels_app.models import Communication, Dispatch
from customers.services import customer_upsert
from tests.factories import (
    approved_version_build,
    demo_templates_approved,
    dispatch_build,
    user_build,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    user = user_build(username="op")
    user.groups.add(Group.objects.get(name=OPERATOR))
    client.force_login(user)
    return user


@pytest.fixture
def customer():
    customer, _ = customer_upsert(
        external_id="C-9", name="Reem", email="reem@example.com", phone="0501234567"
    )
    return customer


def test_an_operator_sends_one_communication_to_a_customer(client, operator, customer):
    demo_templates_approved()
    url = f"/admin/channels_app/customer/{customer.pk}/send/"

    response = client.post(
        url,
        {
            "template": "one-time-passcode",
            "data": '{"code": "123456", "expires_minutes": 5}',
            "reason": "customer asked on the phone",
        },
    )

    assert response.status_code == 302
    communication = Communication.objects.get()
    assert communication.requested_by == operator
    assert communication.reason == "customer asked on the phone"
    assert communication.dispatches.get().channel == "sms"


def test_a_refused_send_shows_the_problem_on_the_form(client, operator, customer):
    demo_templates_approved()

    response = client.post(
        f"/admin/channels_app/customer/{customer.pk}/send/",
        {"template": "one-time-passcode", "data": '{"code": "12"}', "reason": "x"},
    )

    assert response.status_code == 200
    assert "expires_minutes" in response.content.decode()
    assert not Communication.objects.exists()


def test_an_agent_cannot_send_from_the_admin(client, customer):
    agent = user_build(username="ag")
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)

    response = client.get(f"/admin/channels_app/customer/{customer.pk}/send/")

    assert response.status_code == 403


def test_retry_asks_for_a_reason_then_requeues_and_audits(client, operator, customer):
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status="failed")
    changelist = "/admin/channels_app/dispatch/"

    ask = client.post(
        changelist, {"action": "retry", "_selected_action": [dispatch.pk]}
    )
    assert ask.status_code == 200
    assert "Reason" in ask.content.decode()

    done = client.post(
        changelist,
        {"action": "retry", "_selected_action": [dispatch.pk], "reason": "SMTP fixed"},
    )

    assert done.status_code == 302
    dispatch.refresh_from_db()
    assert dispatch.status == "queued"
    event = AuditEvent.objects.get(action="channels.dispatch.retried")
    assert event_readable(event)["reason"] == "SMTP fixed"
    assert event.actor == operator


def test_cancelling_a_sent_dispatch_is_refused_with_the_reason(
    client, operator, customer
):
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(status="sent")

    response = client.post(
        "/admin/channels_app/dispatch/",
        {"action": "cancel", "_selected_action": [dispatch.pk], "reason": "oops"},
        follow=True,
    )

    assert "is Sent; it cannot become Cancelled." in response.content.decode()
    dispatch.refresh_from_db()
    assert dispatch.status == "sent"


def test_the_send_form_takes_a_correlation_key_and_sequencing(
    client, operator, customer
):
    demo_templates_approved()

    response = client.post(
        f"/admin/channels_app/customer/{customer.pk}/send/",
        {
            "template": "one-time-passcode",
            "data": '{"code": "123456", "expires_minutes": 5}',
            "reason": "customer asked",
            "correlation_key": "CASE-7",
            "supersedes": ["payment-reminder"],
            "waits_for": ["policy-renewal-letter"],
        },
    )

    assert response.status_code == 302
    communication = Communication.objects.get()
    assert communication.correlation_key == "CASE-7"
    assert communication.supersedes == ["payment-reminder"]
    assert communication.waits_for == ["policy-renewal-letter"]
    page = client.get(f"/admin/channels_app/communication/{communication.pk}/change/")
    assert "CASE-7" in page.content.decode()


def test_a_dispatch_shows_its_rule_decisions_as_a_table(client, operator, customer):
    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    other = dispatch_build(version=approved_version_build(), customer=customer)
    Dispatch.objects.filter(pk=dispatch.pk).update(
        rule_decisions=[
            {
                "rule": "quiet-hours",
                "version": 3,
                "outcome": "deferred",
                "reason": "22:00-07:00 in Asia/Riyadh",
                "stage": "trigger",
                "at": "2026-11-23T21:30:00+00:00",
            }
        ]
    )

    page = client.get(f"/admin/channels_app/dispatch/{dispatch.pk}/change/")

    html = page.content.decode()
    assert '<table class="rule-decisions">' in html
    assert "<td>quiet-hours</td><td>3</td><td>deferred</td>" in html
    ruled = client.get("/admin/channels_app/dispatch/?ruled=yes").context["cl"]
    assert [d.pk for d in ruled.result_list] == [dispatch.pk]
    plain = client.get("/admin/channels_app/dispatch/?ruled=no").context["cl"]
    assert [d.pk for d in plain.result_list] == [other.pk]


# --- Batch runs ------------------------------------------------------------------

CSV = (
    "external_id,name,email,customer.name,policy_number,amount,currency,due_date\n"
    "B-1,Reem,reem@example.com,Reem,MT-204518,125.5,SAR,2026-12-15\n"
    "B-2,فاطمة الحربي,fatimah@example.com,فاطمة الحربي,MT-204519,99,SAR,2026-12-15\n"
    "B-3,,,Nobody,MT-204520,10,SAR,2026-12-15\n"
)


def _upload(client, content: str, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/admin/channels_app/batch/upload/",
        {
            "template": "payment-reminder",
            "file": SimpleUploadedFile(
                "reminders.csv", content.encode("utf-8-sig"), "text/csv"
            ),
            **fields,
        },
    )


def test_an_operator_uploads_a_csv_and_sees_its_progress_and_refusals(
    client, operator, settings, tmp_path
):
    from channels_app.batches import batch_run
    from channels_app.models import Batch

    settings.MEDIA_ROOT = tmp_path
    demo_templates_approved()
    changelist = client.get("/admin/channels_app/batch/").content.decode()
    assert "Upload a CSV batch" in changelist

    response = _upload(client, CSV)

    assert response.status_code == 302
    batch = Batch.objects.get()
    assert response["Location"] == f"/admin/channels_app/batch/{batch.pk}/change/"
    assert (batch.file_name, batch.total, batch.requested_by) == (
        "reminders.csv",
        3,
        operator,
    )
    progress = client.get(f"/admin/channels_app/batch/{batch.pk}/progress/").json()
    assert progress["status"] == "pending" and progress["running"]

    batch_run(batch=batch)
    page = client.get(response["Location"]).content.decode()
    progress = client.get(f"/admin/channels_app/batch/{batch.pk}/progress/").json()

    assert (progress["status"], progress["accepted"], progress["refused"]) == (
        "done",
        2,
        1,
    )
    assert progress["percent"] == 100
    assert 'id="batch-progress-bar" value="3" max="3"' in page
    assert "unknown customer &#x27;B-3&#x27;" in page
    assert Communication.objects.get(customer__external_id="B-2").data["customer"][
        "name"
    ] == ("فاطمة الحربي")


def test_a_malformed_csv_is_refused_naming_line_and_column_and_nothing_is_stored(
    client, operator
):
    from channels_app.models import Batch

    demo_templates_approved()
    bad = CSV.replace("reem@example.com", "reem-at-example").replace(
        "99,SAR", "ninety-nine,SAR"
    )

    response = _upload(client, bad)

    assert response.status_code == 200
    html = response.content.decode()
    assert "nothing was stored" in html
    assert "line 2, column email: &#x27;reem-at-example&#x27; is not an email" in html
    assert "line 3, column amount: &quot;ninety-nine&quot; must be a number" in html
    assert not Batch.objects.exists()


def test_the_upload_lists_only_templates_in_force(client, operator):
    from templates_app.models import Category, Template

    demo_templates_approved()
    Template.objects.create(
        code="not-approved-yet",
        name="Draft only",
        category=Category.objects.first(),
        channels=["email"],
    )

    form = client.get("/admin/channels_app/batch/upload/").context["form"]

    codes = {template.code for template in form.fields["template"].queryset}
    assert "payment-reminder" in codes
    assert "not-approved-yet" not in codes


def test_an_agent_can_neither_upload_nor_see_batches(client):
    agent = user_build(username="ag")
    agent.groups.add(Group.objects.get(name=AGENT))
    client.force_login(agent)

    assert client.get("/admin/channels_app/batch/upload/").status_code == 403
    assert client.get("/admin/channels_app/batch/").status_code == 403


@pytest.mark.parametrize("model", ["dispatch", "escalation", "batch"])
def test_a_read_only_record_cannot_be_saved_from_its_admin_page(
    client, operator, customer, model
):
    """A save would write the row back (a dispatch's status too) with no audit."""
    from channels_app import lifecycle
    from channels_app.models import Batch

    dispatch = dispatch_build(version=approved_version_build(), customer=customer)
    record = {
        "dispatch": lambda: dispatch,
        "escalation": lambda: lifecycle.escalation_open(
            dispatch=dispatch, severity="high", reason="test"
        ),
        "batch": lambda: Batch.objects.create(
            template_code="payment-reminder", requester_label="op"
        ),
    }[model]()
    page = f"/admin/channels_app/{model}/{record.pk}/change/"

    assert client.get(page).status_code == 200
    saved = client.post(page, {"_save": "Save"})

    assert saved.status_code == 403
    dispatch.refresh_from_db()
    assert dispatch.status == "queued"


def test_the_page_of_a_batch_with_explicit_channels_shows_them(
    client, operator, settings, tmp_path
):
    from channels_app.models import Batch

    settings.MEDIA_ROOT = tmp_path
    demo_templates_approved()
    client.raise_request_exception = False
    response = _upload(client, CSV, channels=["email", "sms"])
    assert response.status_code == 302, response.content.decode()[:500]
    batch = Batch.objects.get()
    assert batch.channels == ["email", "sms"]

    page = client.get(response["Location"])

    assert page.status_code == 200
    assert "Email, SMS" in page.content.decode()
