"""A trigger is decided, rendered and queued whole, or refused naming each problem."""

import hashlib

import pytest

from audit.models import AuditEvent
from ccm.problems import Problem
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Communication, Dispatch
from customers.models import PreferenceEntry
from customers.services import customer_upsert, preference_set

pytestmark = pytest.mark.django_db

REMINDER = {
    "customer": {"name": "Fatimah Al-Harbi"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}


@pytest.fixture
def templates(demo_templates):
    return demo_templates


@pytest.fixture
def customer():
    customer, _ = customer_upsert(
        external_id="C-7",
        name="Fatimah Al-Harbi",
        language="en",
        email="fatimah@example.com",
        phone="+966501234567",
        postal_address="12 Olaya St, Riyadh",
    )
    return customer


def _trigger(customer, **fields):
    defaults = {
        "template_code": "payment-reminder",
        "data": REMINDER,
        "requester_label": "core-banking",
        "source_system": "core-banking",
        "source_reference": "INV-1",
    }
    return communication_trigger(customer=customer, **{**defaults, **fields})


def test_auto_sends_one_email_rendered_from_the_approved_version(templates, customer):
    communication = _trigger(customer)

    dispatch = communication.dispatches.get()
    assert dispatch.channel == "email"
    assert dispatch.status == Dispatch.Status.QUEUED
    assert dispatch.language == "en"
    assert dispatch.address == "fatimah@example.com"
    assert (
        dispatch.subject
        == "Your payment for policy MT-204518 is due on December 15, 2026"
    )
    assert "SAR" in dispatch.body_html and "1,250.50" in dispatch.body_html
    assert "Dear Fatimah Al-Harbi" in dispatch.body_text
    assert len(dispatch.content_sha256) == 64
    assert dispatch.block_versions  # the legal footer's version is recorded
    assert communication.template_version.number == 1
    assert communication.data == REMINDER
    event = AuditEvent.objects.get(action="channels.dispatch.queued")
    assert event.after["content_sha256"] == dispatch.content_sha256
    assert event.after["source"] == "core-banking:INV-1"


def test_an_arabic_customer_gets_the_arabic_copy(templates, customer):
    customer.language = "ar"
    customer.save()

    dispatch = _trigger(customer, channels=["sms"]).dispatches.get()

    assert dispatch.language == "ar"
    assert dispatch.body_text.startswith("الخليج للتأمين")


def test_auto_falls_back_to_sms_when_email_is_refused(templates, customer):
    preference_set(
        customer=customer,
        channel="email",
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
    )

    dispatch = _trigger(customer).dispatches.get()

    assert dispatch.channel == "sms"
    assert dispatch.address == "+966501234567"


def test_a_send_that_preferences_forbid_is_stored_as_suppressed(templates, customer):
    preference_set(
        customer=customer,
        channel="any",
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
    )

    dispatch = _trigger(customer, channels=["email", "sms"]).dispatches.order_by(
        "channel"
    )

    assert [(d.channel, d.status) for d in dispatch] == [
        ("email", "suppressed"),
        ("sms", "suppressed"),
    ]
    assert "opted out of any customer-wide" in dispatch[0].decision
    assert AuditEvent.objects.filter(action="channels.dispatch.suppressed").count() == 2


def test_both_channels_come_from_one_version_and_one_data_snapshot(templates, customer):
    communication = _trigger(customer, channels=["email", "sms"])

    dispatches = communication.dispatches.all()
    assert {d.channel for d in dispatches} == {"email", "sms"}
    assert all("MT-204518" in (d.body_text) for d in dispatches)


def test_a_letter_is_rendered_to_a_stored_pdf(templates, customer):
    data = templates["policy-renewal-letter"].sample_data
    communication = _trigger(
        customer, template_code="policy-renewal-letter", data=data, channels=["letter"]
    )

    dispatch = communication.dispatches.get()
    pdf = dispatch.letter_pdf.read()
    assert pdf.startswith(b"%PDF")
    assert dispatch.content_sha256 != hashlib.sha256(b"").hexdigest()


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"template_code": "nope"}, "template", "unknown template 'nope'"),
        ({"data": {**REMINDER, "amount": -5}}, "data", "amount"),
        ({"data": {"customer": {"name": "x"}}}, "data", "policy_number"),
        ({"channels": ["letter"]}, "channels", "does not support Letter"),
        ({"channels": ["fax"]}, "channels", "does not support fax"),
    ],
)
def test_bad_input_is_refused_naming_the_problem_and_nothing_is_queued(
    templates, customer, fields, field, message
):
    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer, **fields)

    assert message in " ".join(map(str, refused.value.problems[field]))
    assert not Communication.objects.exists()
    assert not AuditEvent.objects.filter(
        action__startswith="channels.dispatch"
    ).exists()


def test_no_contact_point_for_a_named_channel_is_refused(templates, customer):
    customer.phone = ""
    customer.save()

    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer, channels=["sms"])

    assert refused.value.problems == {
        "customer": [Problem("trigger.customer.no_contact_point", {"channel": "sms"})]
    }
    assert str(refused.value) == "customer: no usable SMS contact point"


def test_a_template_without_an_approved_version_is_refused(templates, customer):
    from django.contrib.auth import get_user_model

    from templates_app.selectors import version_in_force
    from templates_app.services import version_retire

    version_retire(
        version=version_in_force(templates["payment-reminder"]),
        actor=get_user_model().objects.get(username="demo-reviewer"),
        comment="withdrawn product",
    )

    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer)

    assert "no approved version in force" in str(refused.value.problems["template"][0])


def _wording_tamper(template) -> None:
    from django.db import connection

    from templates_app.selectors import version_in_force

    version = version_in_force(template)
    content = version.contents.get(channel="email", language="en")
    # Someone with database access edits the approved wording behind the app.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE templates_app_versioncontent SET subject = %s WHERE id = %s",
            ["Tampered {{ policy_number }}", content.pk],
        )


def test_an_approved_version_whose_content_changed_is_never_sent(
    templates, customer, settings
):
    settings.TEMPLATE_ROWS_REUSE_SECONDS = 0
    _wording_tamper(templates["payment-reminder"])

    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer)

    assert refused.value.problems["template"][0].code == (
        "trigger.template.hash_mismatch"
    )
    assert "no longer matches its approved hash" in str(refused.value)


def test_reused_rows_send_the_approved_wording_until_read_again_and_refused(
    templates, customer, settings
):
    settings.TEMPLATE_ROWS_REUSE_SECONDS = 60
    _trigger(customer)  # this process now holds the version's checked rows
    _wording_tamper(templates["payment-reminder"])

    communication = _trigger(customer, idempotency_key="after-the-edit")

    sent = communication.dispatches.get()
    assert sent.status == Dispatch.Status.QUEUED
    assert sent.subject and "Tampered" not in sent.subject
    settings.TEMPLATE_ROWS_REUSE_SECONDS = 0  # the rows are read again
    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer, idempotency_key="read-again")
    assert "no longer matches its approved hash" in str(
        refused.value.problems["template"][0]
    )


def _customers(count: int, *, prefix: str = "B") -> list:
    from customers.models import Customer

    return Customer.objects.bulk_create(
        Customer(
            external_id=f"{prefix}-{n}",
            name=f"Customer {n}",
            language="ar" if n % 2 else "en",
            email=f"c{n}@example.com",
        )
        for n in range(count)
    )


def _requests(customers, **fields):
    from channels_app.dispatching import TriggerRequest

    return [
        TriggerRequest(
            template_code="payment-reminder",
            customer=customer,
            data=REMINDER,
            channels=["email"],
            source_reference=f"INV-{n}",
            **fields,
        )
        for n, customer in enumerate(customers)
    ]


def test_a_bulk_call_refuses_only_the_bad_rows_and_stores_the_rest_whole(templates):
    from channels_app.dispatching import communications_trigger_bulk

    requests = _requests(_customers(4))
    requests[1].template_code = "no-such-template"
    requests[2].data = {**REMINDER, "amount": "a lot"}

    results = communications_trigger_bulk(requests=requests, requester_label="crm")

    assert [type(r).__name__ for r in results] == [
        "Communication",
        "TriggerRefused",
        "TriggerRefused",
        "Communication",
    ]
    assert "no-such-template" in str(results[1].problems["template"])
    assert "/amount" in str(results[2].problems["data"])
    assert Communication.objects.count() == 2
    stored = Dispatch.objects.order_by("id")
    assert [d.communication.source_reference for d in stored] == ["INV-0", "INV-3"]
    # The Arabic customer (odd index) got the Arabic copy, each its own hash.
    assert [d.language for d in stored] == ["en", "ar"]
    assert all(d.content_sha256 and d.status_changes.exists() for d in stored)
    queued = AuditEvent.objects.filter(action="channels.dispatch.queued")
    assert sorted(int(e.object_id) for e in queued) == [d.pk for d in stored]


def test_a_bulk_call_does_not_make_a_query_per_row(templates):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from channels_app.dispatching import communications_trigger_bulk

    def queries_for(count: int, prefix: str) -> int:
        requests = _requests(_customers(count, prefix=prefix))
        with CaptureQueriesContext(connection) as captured:
            results = communications_trigger_bulk(
                requests=requests, requester_label="crm"
            )
        assert all(isinstance(r, Communication) for r in results)
        return len(captured)

    queries_for(1, "warm")  # first call loads caches (content types, blocks)
    # Inserts are split into batches of the backend's parameter limit (SQLite:
    # 999 parameters), so a few more queries for ten times the rows, not ~180.
    assert queries_for(100, "hundred") - queries_for(10, "ten") < 10
