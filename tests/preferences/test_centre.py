"""The customer's preference centre, reached from the link in every message."""

import re
import time
from unittest import mock

import pytest
from django.contrib.auth import get_user_model

from audit.models import AuditEvent
from channels_app.dispatching import communication_trigger
from channels_app.models import Dispatch
from customers.links import SALT, link_read, link_token
from customers.models import PreferenceEntry
from tests.console.conftest import reminder_data, renewal_data

pytestmark = pytest.mark.django_db

CENTRE = re.compile(r"http://testserver/p/([^/\s\"<]+)/")


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"


def _email(customer, **fields):
    return communication_trigger(
        template_code="payment-reminder",
        customer=customer,
        data=reminder_data(customer),
        channels=["email"],
        requester_label="core-banking",
        **fields,
    ).dispatches.get()


def _letter(customer, scope: str):
    return communication_trigger(
        template_code="policy-renewal-letter",
        customer=customer,
        data=renewal_data(customer),
        channels=["letter"],
        requester_label="policy-admin",
        scope=scope,
    ).dispatches.get()


def test_every_email_and_letter_links_to_the_centre_naming_no_personal_data(
    demo_templates, customer
):
    email = _email(customer)
    letter = _letter(customer, "HM-778201")

    for dispatch in (email, letter):
        token = CENTRE.search(dispatch.body_html).group(1)
        link = link_read(token)
        assert link.customer_id == customer.pk
        assert link.message == dispatch.communication.public_id
        assert link.channel == dispatch.channel
        for private in ("CUST-77001", "reem", "Reem", "0501234567", "966"):
            assert private not in token
    assert CENTRE.search(email.body_text), "the text part carries the link too"
    from tests.console.conftest import pdf_text

    with letter.letter_pdf.open("rb") as pdf:
        printed = pdf_text(pdf.read())
    assert "إدارة تفضيلات التواصل" in printed
    assert CENTRE.search(letter.body_html).group(0) in printed
    # Not marketing: no one-click link, so no List-Unsubscribe either.
    assert "/unsubscribe" not in email.body_html


def test_the_centre_opens_in_the_customers_language_right_to_left(
    client, demo_templates, customer
):
    token = CENTRE.search(_email(customer).body_html).group(1)

    response = client.get(f"/p/{token}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert '<html lang="ar" dir="rtl">' in html
    assert "تفضيلات" in html
    assert "reem.harbi@example.com" not in html, "addresses are masked"
    assert "r•••@example.com" in html
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "same-origin"
    english = client.get(f"/p/{token}/?lang=en").content.decode()
    assert '<html lang="en" dir="ltr">' in english


def test_a_forged_link_shows_nothing(client, demo_templates, customer):
    token = link_token(customer_id=customer.pk)
    forged = token.replace(f"{customer.pk}.", f"{customer.pk + 1}.", 1)

    for bad in (forged, "nonsense", token[:-2] + "xx"):
        response = client.get(f"/p/{bad}/")
        assert response.status_code == 403
        assert "r•••" not in response.content.decode()


def _expired_token(customer) -> str:
    past = time.time() - 200 * 86400
    with mock.patch("django.core.signing.time.time", return_value=past):
        return link_token(customer_id=customer.pk)


def test_an_expired_link_offers_a_fresh_one_to_the_address_on_file(
    client, demo_templates, customer, mailoutbox
):
    token = _expired_token(customer)

    response = client.get(f"/p/{token}/")
    assert response.status_code == 410
    assert "r•••@example.com" in response.content.decode()
    assert not PreferenceEntry.objects.exists()

    sent = client.post(f"/p/{token}/renew")
    assert sent.status_code == 200
    [message] = mailoutbox
    assert message.to == ["reem.harbi@example.com"]
    fresh = CENTRE.search(message.body).group(1)
    assert client.get(f"/p/{fresh}/").status_code == 200
    assert AuditEvent.objects.filter(action="preferences.link.sent").count() == 1
    # Asking again at once sends nothing more.
    client.post(f"/p/{token}/renew")
    assert len(mailoutbox) == 1


def test_a_customer_without_email_gets_the_fresh_link_by_sms(
    client, demo_templates, settings
):
    import json

    from django.core.cache import cache

    from channels_app import outbox
    from customers.services import customer_upsert
    from templates_app.demo_notices import demo_notices_seed

    cache.clear()  # another test's customer may have had this id and a link

    users = get_user_model().objects
    demo_notices_seed(
        author=users.get(username="demo-author"),
        reviewer=users.get(username="demo-reviewer"),
    )
    customer, _ = customer_upsert(
        external_id="CUST-77002", name="Fahad Al-Qahtani", phone="0559876543"
    )
    token = _expired_token(customer)

    expired = client.get(f"/p/{token}/?lang=en").content.decode()
    assert "text message" in expired and "•••6543" in expired

    sent = client.post(f"/p/{token}/renew", {"lang": "en"})
    assert sent.status_code == 200
    assert "Check your phone" in sent.content.decode()
    [dispatch] = Dispatch.objects.filter(communication__customer=customer)
    assert (dispatch.channel, dispatch.status) == ("sms", "queued")

    outbox.dispatches_claim(limit=10)
    outbox.dispatches_send(ids=[dispatch.pk])
    delivered = json.loads(
        (settings.SMS_FILE_DIR / f"dispatch-{dispatch.pk}.json").read_text()
    )
    assert delivered["to"] == "+966559876543"
    fresh = CENTRE.search(delivered["text"]).group(1)
    assert client.get(f"/p/{fresh}/").status_code == 200
    assert link_read(fresh).channel == "sms"
    assert AuditEvent.objects.filter(action="preferences.link.sent").count() == 1
    # Asking again at once sends nothing more.
    client.post(f"/p/{token}/renew")
    assert Dispatch.objects.filter(communication__customer=customer).count() == 1


def test_going_paperless_records_a_customer_entry_and_stops_the_next_letter(
    client, demo_templates, customer
):
    email = _email(customer, scope="MT-204518")
    token = CENTRE.search(email.body_html).group(1)

    response = client.post(
        f"/p/{token}/",
        {"paperless-all": "on", "lang": "ar"},
        HTTP_USER_AGENT="Mozilla/5.0 (iPhone) Test",
    )

    assert response.status_code == 200
    assert 'id="saved"' in response.content.decode()
    entry = PreferenceEntry.objects.get()
    assert (entry.channel, entry.category, entry.scope, entry.opted_in) == (
        "letter",
        "",
        "",
        False,
    )
    assert entry.source == PreferenceEntry.Source.CUSTOMER
    assert entry.source_message == str(email.communication.public_id)
    assert entry.user_agent == "Mozilla/5.0 (iPhone) Test"
    event = AuditEvent.objects.get(action="channels.preference.set")
    assert event.actor_kind == "customer"
    assert event.after["message"] == str(email.communication.public_id)

    # The same choices again add nothing.
    client.post(f"/p/{token}/", {"paperless-all": "on"})
    assert PreferenceEntry.objects.count() == 1

    letter = _letter(customer, "HM-778201")
    assert letter.status == Dispatch.Status.SUPPRESSED
    assert letter.decision == "customer opted out of letter customer-wide"
    assert letter.rule_decisions[-1]["ledger_entry"] == entry.pk


def test_paperless_for_one_product_leaves_the_others_on_paper(
    client, demo_templates, customer
):
    _letter(customer, "HM-778201")
    email = _email(customer, scope="MT-204518")
    token = CENTRE.search(email.body_html).group(1)
    page = client.get(f"/p/{token}/?lang=en").content.decode()
    products = dict(
        re.findall(r'name="(paperless-product-\d+)"[^>]*>\s*<bdi>([^<]+)</bdi>', page)
    )
    chosen = next(name for name, product in products.items() if product == "HM-778201")

    client.post(f"/p/{token}/", {chosen: "on"})

    entry = PreferenceEntry.objects.get()
    assert (entry.channel, entry.scope, entry.opted_in) == (
        "letter",
        "HM-778201",
        False,
    )
    assert _letter(customer, "HM-778201").status == Dispatch.Status.SUPPRESSED
    assert _letter(customer, "CAR-1").status == Dispatch.Status.QUEUED


def test_marketing_can_be_turned_off_per_channel_or_entirely(
    client, demo_templates, offers, customer
):
    from tests.preferences.conftest import opt_in

    opt_in(customer, "offers")
    token = link_token(customer_id=customer.pk)
    page = client.get(f"/p/{token}/").content.decode()
    assert 'name="marketing-offers-email" id="marketing-offers-email" checked' in page

    client.post(f"/p/{token}/", {"marketing-offers-email": "on"})
    entries = PreferenceEntry.objects.filter(source="customer")
    assert sorted((e.channel, e.opted_in) for e in entries) == [
        ("letter", False),
        ("sms", False),
    ]
    client.post(f"/p/{token}/", {"marketing-offers-email": "on", "no-marketing": "on"})
    assert entries.filter(channel="email", opted_in=False).count() == 1
    offer = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["email", "sms"],
        requester_label="campaigns",
    )
    assert {d.status for d in offer.dispatches.all()} == {"suppressed"}


def test_mandatory_notices_are_listed_as_such(client, demo_templates, customer):
    token = link_token(customer_id=customer.pk)

    page = client.get(f"/p/{token}/?lang=en").content.decode()

    assert 'id="mandatory"' in page
    assert "Security" in page
    assert "cannot be turned off" in page


def test_the_salt_keeps_other_signed_values_out():
    from django.core import signing

    other = signing.TimestampSigner(salt="something-else").sign("1..e")
    with pytest.raises(Exception, match="not valid"):
        link_read(other)
    assert SALT == "customers.preference-link"


def test_a_letter_queued_before_going_paperless_is_stopped_when_claimed(
    client, demo_templates, customer
):
    from channels_app import outbox

    queued = _letter(customer, "HM-778201")
    assert queued.status == Dispatch.Status.QUEUED
    token = CENTRE.search(queued.body_html).group(1)

    client.post(f"/p/{token}/", {"paperless-all": "on"})
    outbox.dispatches_claim(limit=100)

    queued.refresh_from_db()
    entry = PreferenceEntry.objects.get()
    assert entry.source_message == str(queued.communication.public_id)
    assert queued.status == Dispatch.Status.SUPPRESSED
    assert queued.rule_decisions[-1]["stage"] == "due"
    assert queued.rule_decisions[-1]["ledger_entry"] == entry.pk


def test_a_marketing_sms_carries_a_short_link_and_the_stop_reply(
    demo_templates, offers, customer
):
    from tests.preferences.conftest import opt_in

    opt_in(customer, "offers")
    sms = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["sms"],
        requester_label="campaigns",
    ).dispatches.get()

    assert "إيقاف" in sms.body_text
    token = CENTRE.search(sms.body_text).group(1)
    assert len(token) <= 60
    assert link_read(token).channel == "sms"


def test_a_link_signed_before_a_key_rotation_still_opens_with_the_old_key_kept(
    client, demo_templates, customer, settings
):
    token = link_token(customer_id=customer.pk)
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50

    assert client.get(f"/p/{token}/").status_code == 403
    settings.SECRET_KEY_FALLBACKS = [old]
    assert client.get(f"/p/{token}/").status_code == 200


def test_the_customer_chooses_arabic_hijri_dates_and_arabic_indic_digits(
    client, demo_templates, customer
):
    email = _email(customer)
    token = CENTRE.search(email.body_html).group(1)
    page = client.get(f"/p/{token}/?lang=en").content.decode()
    assert 'id="format-digits-arabic"' in page and 'id="format-calendar-hijri"' in page

    response = client.post(
        f"/p/{token}/",
        {
            "lang": "en",
            "format-language": "ar",
            "format-digits": "arabic",
            "format-calendar": "hijri",
        },
    )

    assert response.status_code == 200
    assert 'id="saved"' in response.content.decode()
    customer.refresh_from_db()
    assert (customer.language, customer.digits, customer.calendar) == (
        "ar",
        "arabic",
        "hijri",
    )
    event = AuditEvent.objects.filter(action="channels.customer.updated").last()
    assert event.actor_label == "customer (preference centre)"
    # The next message is written as the customer chose: in Arabic, its due
    # date of 15 July 2025 in the Hijri year 1447, in Arabic-Indic digits.
    text = _email(customer).body_text
    assert "١٤٤٧ هـ" in text and "2025" not in text

    # The same choices again change nothing.
    again = client.post(
        f"/p/{token}/",
        {
            "lang": "en",
            "format-language": "ar",
            "format-digits": "arabic",
            "format-calendar": "hijri",
        },
    )
    assert 'id="saved"' in again.content.decode()
    assert "Nothing changed" in again.content.decode()


def test_a_choice_the_centre_does_not_offer_is_refused_and_nothing_is_saved(
    client, demo_templates, customer
):
    token = CENTRE.search(_email(customer).body_html).group(1)

    response = client.post(
        f"/p/{token}/",
        {"lang": "en", "paperless-all": "on", "format-digits": "roman"},
    )

    assert response.status_code == 400
    assert "Nothing was saved" in response.content.decode()
    assert "roman" in response.content.decode()
    assert not PreferenceEntry.objects.exists()
    customer.refresh_from_db()
    assert customer.digits == ""
