"""The mailto: of List-Unsubscribe: an email to the unsubscribe mailbox opts out.

RFC 8058 asks mailbox providers to prefer the one-click POST, but RFC 2369's
mailto: is what older clients and some providers use: they send an email to
UNSUBSCRIBE_MAILTO with the subject the header named ("unsubscribe <token>").
That token is the same signed link as the one-click URL's, so the email opts
out of the same category on the same channel, once (a second email changes
nothing), and a forged, altered or expired token changes nothing.

`mailto_unsubscribe` is the one handler; `manage.py unsubscribe_smtpd` is a
small SMTP server (aiosmtpd) for the unsubscribe mailbox's MX, which answers
550 to a message it cannot act on so the sender learns it did not work.
"""

import email
import email.policy
import re
from dataclasses import dataclass

from customers.links import LinkInvalid, link_read
from customers.models import PreferenceEntry
from preferences.services import LinkRefused, unsubscribe_one_click

# The subject List-Unsubscribe names: "unsubscribe " then the signed token.
_SUBJECT = re.compile(r"\bunsubscribe\s+([A-Za-z0-9_\-.:]+)", re.IGNORECASE)
# Recorded as the entry's user agent: how the request came, never who sent it.
MAILTO_AGENT = "email to the unsubscribe mailbox (List-Unsubscribe mailto:)"


class MailtoRefused(Exception):
    """The email names no valid unsubscribe link; `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class MailtoOutcome:
    """What an unsubscribe email did: the new ledger entry, or None (already out)."""

    entry: PreferenceEntry | None


def mailto_unsubscribe(raw: bytes) -> MailtoOutcome:
    """Act on one email sent to the unsubscribe mailbox.

    Raise MailtoRefused when the subject carries no token, or the token is
    forged, altered, expired or names no message of its customer.
    """
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message.get("Subject", ""))
    found = _SUBJECT.search(subject)
    if found is None:
        raise MailtoRefused("the subject carries no unsubscribe link")
    try:
        link = link_read(found.group(1))
        entry = unsubscribe_one_click(link=link, user_agent=MAILTO_AGENT)
    except (LinkInvalid, LinkRefused):
        raise MailtoRefused(
            "the unsubscribe link is not valid or has expired"
        ) from None
    return MailtoOutcome(entry=entry)
