"""Workflow emails: who is asked to review, who hears of a decision.

Each recipient gets the mail in their own language (the one they chose in the
admin or console, else the site's default) with an absolute link built on
`SITE_URL`. Mail leaves after the transaction commits; a mail server failure is
logged and never undoes the decision.
"""

import logging
import smtplib
from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.urls import reverse
from django.utils import translation

logger = logging.getLogger(__name__)


def user_language(user: AbstractBaseUser) -> str:
    """Return the language a user reads the product in."""
    chosen = getattr(getattr(user, "ccm_settings", None), "language", "")
    return chosen or settings.LANGUAGE_CODE


def site_link(name: str, pk: int) -> str:
    """Return the absolute address of an admin page, for an email."""
    return f"{settings.SITE_URL}{reverse(name, args=[pk])}"


def notify(
    *,
    recipients: Iterable[AbstractBaseUser],
    compose: Callable[[], tuple[str, str]],
) -> None:
    """Email each recipient, in their language, once the transaction commits.

    `compose()` returns the subject and body; it is called with each
    recipient's language active, so its gettext calls translate for them.
    """
    by_language: dict[str, set[str]] = {}
    for user in recipients:
        if user.email:
            by_language.setdefault(user_language(user), set()).add(user.email)
    if not by_language:
        return
    messages = []
    for language, addresses in sorted(by_language.items()):
        with translation.override(language):
            subject, body = compose()
        messages.extend(
            EmailMessage(
                subject=subject,
                body=body,
                to=[address],
                headers={"Content-Language": language},
            )
            for address in sorted(addresses)
        )

    def send() -> None:
        try:
            with get_connection() as connection:
                connection.send_messages(messages)
        except (OSError, smtplib.SMTPException):
            logger.exception("workflow notification %r was not sent", subject)

    transaction.on_commit(send)
