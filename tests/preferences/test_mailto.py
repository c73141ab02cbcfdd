"""The mailto: of List-Unsubscribe: an email to the unsubscribe mailbox opts out."""

import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import pytest

from channels_app import outbox
from channels_app.dispatching import communication_trigger
from customers.models import PreferenceEntry
from preferences.management.commands.unsubscribe_smtpd import controller_build
from tests.preferences.conftest import opt_in
from tests.smtp import free_port

# The SMTP server answers from its own thread: the rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

MAILBOX = "unsubscribe@example.com"


@pytest.fixture(autouse=True)
def _links(settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    settings.UNSUBSCRIBE_MAILTO = MAILBOX


@pytest.fixture
def unsubscribe_server():
    port = free_port()
    controller = controller_build(host="127.0.0.1", port=port, mailbox=MAILBOX)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _mailto_of(smtp_sink, customer) -> tuple[str, str]:
    """Deliver a marketing email; return the (address, subject) its mailto: names."""
    dispatch = communication_trigger(
        template_code="card-offer",
        customer=customer,
        data={},
        channels=["email"],
        requester_label="campaigns",
    ).dispatches.get()
    outbox.dispatches_claim(limit=100)
    outbox.dispatches_send(ids=[dispatch.pk])
    [message] = smtp_sink.messages
    mailto = next(
        part.strip(" <>")
        for part in message["List-Unsubscribe"].split(",")
        if "mailto:" in part
    )
    target = urlsplit(mailto)
    return target.path, unquote(target.query.removeprefix("subject="))


def _send(port: int, *, to: str, subject: str) -> None:
    """Send an email as a mail client does when the reader clicks unsubscribe."""
    message = EmailMessage()
    message["From"] = "reader@example.net"
    message["To"] = to
    message["Subject"] = subject
    message.set_content("This message was automatically generated.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.send_message(message)


def test_an_email_to_the_mailto_opts_out_once(
    offers, customer, smtp_sink, unsubscribe_server
):
    opt_in(customer, "offers")
    address, subject = _mailto_of(smtp_sink, customer)
    assert address == MAILBOX and subject.startswith("unsubscribe ")

    _send(unsubscribe_server, to=address, subject=subject)

    entry = PreferenceEntry.objects.get(source="customer")
    assert (entry.channel, entry.category, entry.opted_in) == ("email", "offers", False)
    assert "mailto" in entry.user_agent
    # The sender's address is not what the entry records.
    assert "reader@example.net" not in entry.user_agent + entry.note

    # A second email (a client that retries) changes nothing.
    _send(unsubscribe_server, to=address, subject=subject)
    assert PreferenceEntry.objects.filter(source="customer").count() == 1


def test_a_forged_or_missing_token_is_refused_and_changes_nothing(
    offers, customer, smtp_sink, unsubscribe_server
):
    opt_in(customer, "offers")
    address, subject = _mailto_of(smtp_sink, customer)
    forged = subject[:-3] + ("AAA" if not subject.endswith("AAA") else "BBB")

    for bad_subject in (forged, "Please take me off your list"):
        with pytest.raises(smtplib.SMTPDataError) as refused:
            _send(unsubscribe_server, to=address, subject=bad_subject)
        assert refused.value.smtp_code == 550
    assert not PreferenceEntry.objects.filter(source="customer").exists()


def test_mail_for_another_mailbox_is_refused_at_rcpt(unsubscribe_server):
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        _send(unsubscribe_server, to="someone@example.com", subject="unsubscribe x")
