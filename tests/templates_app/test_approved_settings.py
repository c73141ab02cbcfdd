"""What decides what is sent, or to whom, is what a reviewer approved.

A template's category (and so its kind), channels, default language and data
schema are frozen on each version at submission and covered by its content
hash; the send path reads them from the version in force, never from the live
template row, whose settings take effect only with a newly approved version.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Dispatch
from customers.models import PreferenceEntry
from customers.services import customer_upsert, preference_set
from templates_app import services
from templates_app.models import Category, Status
from templates_app.selectors import version_in_force

pytestmark = pytest.mark.django_db

REMINDER = {
    "customer": {"name": "Fatimah Al-Harbi"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}


def _user(username: str):
    return get_user_model().objects.get(username=username)


@pytest.fixture
def reminder(demo_templates):
    return demo_templates["payment-reminder"]


def _customer(external_id: str):
    customer, _ = customer_upsert(
        external_id=external_id,
        name="Fatimah Al-Harbi",
        language="en",
        email=f"{external_id.lower()}@example.com",
        phone="+966501234567",
    )
    return customer


@pytest.fixture
def customer():
    return _customer("C-OK")


@pytest.fixture
def opted_out():
    """A customer who opted out of everything, customer-wide."""
    customer = _customer("C-OPT")
    preference_set(
        customer=customer,
        channel="any",
        opted_in=False,
        source=PreferenceEntry.Source.CUSTOMER,
        legal_basis=PreferenceEntry.LegalBasis.CONSENT,
        note="no more messages",
    )
    return customer


def _trigger(customer, **fields):
    defaults = {
        "template_code": "payment-reminder",
        "data": REMINDER,
        "requester_label": "core-banking",
        "channels": ["email"],
    }
    return communication_trigger(customer=customer, **{**defaults, **fields})


def _move(template, category_code: str, *, actor):
    template.category = Category.objects.get(code=category_code)
    return services.template_save(template=template, actor=actor)


def _redraft_and_submit(template, *, author):
    draft = services.version_draft_create(template=template, author=author)
    return services.version_submit(version=draft, actor=author)


def test_a_live_template_moved_into_a_mandatory_category_keeps_its_approved_category(
    reminder, opted_out
):
    _move(reminder, "security", actor=_user("demo-author"))

    communication = _trigger(opted_out)

    dispatch = communication.dispatches.get()
    assert dispatch.status == Dispatch.Status.SUPPRESSED
    assert "opted out of any customer-wide" in dispatch.decision
    assert communication.category == "collections"
    assert communication.mandatory is False
    assert communication.template_version.number == 1


def test_the_move_is_audited_with_the_category_before_and_after(reminder):
    _move(reminder, "security", actor=_user("demo-author"))

    event = AuditEvent.objects.filter(
        action="templates.template.changed", object_id=str(reminder.pk)
    ).get()
    assert event.before["category"] == "collections"
    assert event.after["category"] == "security"
    assert event.actor_label == "demo-author"
    assert "approved" in event.reason


def test_the_move_overrides_the_opt_out_once_a_reviewer_approved_it(
    reminder, opted_out
):
    author = _user("demo-author")
    _move(reminder, "security", actor=author)
    version = _redraft_and_submit(reminder, author=author)
    assert version.category.code == "security"

    services.version_approve(version=version, actor=_user("demo-reviewer"))

    communication = _trigger(opted_out)
    dispatch = communication.dispatches.get()
    assert dispatch.status == Dispatch.Status.QUEUED
    assert "mandatory category overrides opt-out" in dispatch.decision
    assert communication.category == "security"
    assert communication.mandatory is True
    assert communication.template_version == version


def test_whoever_moved_the_template_may_not_approve_the_version_that_carries_it(
    reminder,
):
    mover = _user("demo-reviewer")
    _move(reminder, "security", actor=mover)
    version = _redraft_and_submit(reminder, author=_user("demo-author"))

    with pytest.raises(services.WorkflowRefused) as refused:
        services.version_approve(version=version, actor=mover)

    assert refused.value.rule == "segregation"
    assert version_in_force(reminder).number == 1


def test_a_version_in_review_keeps_the_settings_it_was_submitted_with(reminder):
    author = _user("demo-author")
    version = _redraft_and_submit(reminder, author=author)

    _move(reminder, "security", actor=author)
    services.version_approve(version=version, actor=_user("demo-reviewer"))

    in_force = version_in_force(reminder)
    assert in_force == version
    assert in_force.category.code == "collections"
    assert services.version_hash_ok(in_force)


def test_a_schema_change_applies_only_once_approved(reminder, customer):
    author = _user("demo-author")
    reminder.data_schema = {
        **reminder.data_schema,
        "required": [*reminder.data_schema["required"], "payment_url"],
    }
    services.template_save(template=reminder, actor=author)

    # The approved schema still decides: payment_url stays optional.
    assert _trigger(customer).dispatches.get().status == Dispatch.Status.QUEUED
    event = AuditEvent.objects.get(action="templates.template.changed")
    assert "payment_url" not in event.before["data_schema"]["required"]
    assert "payment_url" in event.after["data_schema"]["required"]

    version = _redraft_and_submit(reminder, author=author)
    services.version_approve(version=version, actor=_user("demo-reviewer"))

    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer)
    assert "payment_url" in str(refused.value.problems["data"])


def test_a_channel_change_applies_only_once_approved(reminder, customer):
    author = _user("demo-author")
    reminder.channels = ["email"]
    services.template_save(template=reminder, actor=author)

    # The approved version still offers SMS.
    sms = _trigger(customer, channels=["sms"]).dispatches.get()
    assert sms.status == Dispatch.Status.QUEUED
    event = AuditEvent.objects.get(action="templates.template.changed")
    assert (event.before["channels"], event.after["channels"]) == (
        ["email", "sms"],
        ["email"],
    )

    draft = services.version_draft_create(template=reminder, author=author)
    contents = [c for c in services.contents_of(draft) if c.channel == "email"]
    services.version_content_save(version=draft, contents=contents, actor=author)
    services.version_submit(version=draft, actor=author)
    services.version_approve(version=draft, actor=_user("demo-reviewer"))

    with pytest.raises(TriggerRefused) as refused:
        _trigger(customer, channels=["sms"])
    assert "does not support SMS" in str(refused.value)


def test_the_content_hash_covers_the_frozen_settings(reminder):
    author = _user("demo-author")
    _move(reminder, "security", actor=author)
    version = _redraft_and_submit(reminder, author=author)
    assert services.version_hash_ok(version)

    # Behind the services' back (raw SQL is the only way left): refused.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE templates_app_templateversion SET category_id = %s WHERE id = %s",
            [Category.objects.get(code="collections").pk, version.pk],
        )
    version.refresh_from_db()
    assert not services.version_hash_ok(version)
    with pytest.raises(services.WorkflowRefused) as refused:
        services.version_approve(version=version, actor=_user("demo-reviewer"))
    assert refused.value.rule == "hash"


def test_settings_of_a_submitted_version_cannot_be_rewritten(reminder):
    from templates_app.models import ContentFrozen

    author = _user("demo-author")
    version = _redraft_and_submit(reminder, author=author)

    version.category = Category.objects.get(code="security")
    with pytest.raises(ContentFrozen):
        version.save()
    with pytest.raises(ContentFrozen):
        type(version).objects.filter(pk=version.pk).update(channels=["letter"])
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW
    assert version.category.code == "collections"


def test_the_review_screen_shows_the_settings_and_their_diff(reminder):
    author = _user("demo-author")
    _move(reminder, "security", actor=author)
    reminder.channels = ["email"]
    services.template_save(template=reminder, actor=author)
    draft = services.version_draft_create(template=reminder, author=author)
    contents = [c for c in services.contents_of(draft) if c.channel == "email"]
    services.version_content_save(version=draft, contents=contents, actor=author)
    version = services.version_submit(version=draft, actor=author)
    client = Client()
    client.force_login(_user("demo-reviewer"))

    page = client.get(
        reverse("admin:templates_app_templateversion_review", args=[version.pk])
    )

    assert page.status_code == 200
    settings = {row.field: row for row in page.context["settings_rows"]}
    category = settings["category"]
    assert category.changed
    assert "Collections" in category.before and "Service" in category.before
    assert "Security" in category.after and "Mandatory" in category.after
    assert settings["channels"].changed
    assert not settings["data_schema"].changed
    html = page.content.decode()
    assert 'id="tpl-review-settings"' in html
    assert "tpl-setting-changed" in html


def test_the_template_page_says_a_settings_change_needs_a_new_approved_version(
    reminder,
):
    client = Client()
    client.force_login(_user("demo-author"))
    url = reverse("admin:templates_app_template_change", args=[reminder.pk])
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value()} | {
        "category": Category.objects.get(code="security").pk,
        "channels": reminder.channels,
        "data_schema": form["data_schema"].value(),
        "sample_data": form["sample_data"].value(),
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
        "_continue": "1",
    }

    response = client.post(url, data, follow=True)

    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    assert any("approved" in m and "new draft" in m for m in shown), shown
    assert response.context["settings_pending"]
    reminder.refresh_from_db()
    assert reminder.category.code == "security"
    assert version_in_force(reminder).category.code == "collections"


def test_the_evidence_names_the_category_the_copy_was_approved_and_sent_with(
    reminder, customer
):
    from console.evidence import evidence_bundle

    sent = _trigger(customer).dispatches.get()
    _move(reminder, "security", actor=_user("demo-author"))

    bundle = evidence_bundle(
        dispatches=[Dispatch.objects.get(pk=sent.pk)],
        customer=customer,
        actor=_user("demo-reviewer"),
    )

    assert bundle["dispatches"][0]["template"]["category"] == "collections"
