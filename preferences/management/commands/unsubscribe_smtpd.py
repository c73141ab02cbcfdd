"""Receive the emails of List-Unsubscribe's mailto: and opt their senders out.

Run it as the MX of UNSUBSCRIBE_MAILTO's domain (or behind the relay that
receives that mailbox): it accepts mail only for that address, acts on each
message through `preferences.mailto`, and answers 550 when the message names
no valid unsubscribe link, so nothing is silently dropped.
"""

import asyncio
import logging
import signal

from aiosmtpd.controller import Controller
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections

from preferences.mailto import MailtoRefused, mailto_unsubscribe

logger = logging.getLogger(__name__)
# An unsubscribe email is a subject line; anything this large is not one.
DATA_SIZE_LIMIT = 256 * 1024


def _handle(raw: bytes) -> str:
    close_old_connections()
    try:
        outcome = mailto_unsubscribe(raw)
    except MailtoRefused as refused:
        logger.info("unsubscribe email refused: %s", refused.reason)
        return f"550 5.7.1 {refused.reason}"
    finally:
        close_old_connections()
    logger.info(
        "unsubscribe email: %s",
        "opted out" if outcome.entry is not None else "already opted out",
    )
    return "250 2.0.0 Unsubscribed"


class UnsubscribeHandler:
    """aiosmtpd handler: one mailbox, one action per message."""

    def __init__(self, mailbox: str) -> None:
        self.mailbox = mailbox.casefold()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.casefold() != self.mailbox:
            return f"550 5.1.1 <{address}>: only {self.mailbox} is served here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        return await sync_to_async(_handle, thread_sensitive=False)(envelope.content)


def controller_build(*, host: str, port: int, mailbox: str) -> Controller:
    """Return an (unstarted) SMTP server for the unsubscribe mailbox."""
    return Controller(
        UnsubscribeHandler(mailbox),
        hostname=host,
        port=port,
        data_size_limit=DATA_SIZE_LIMIT,
        server_hostname=settings.UNSUBSCRIBE_MAILTO.rpartition("@")[2] or None,
    )


class Command(BaseCommand):
    help = "Run the SMTP server of the List-Unsubscribe mailto: mailbox."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2525)

    def handle(self, *args, host: str, port: int, **options):
        if not settings.UNSUBSCRIBE_MAILTO:
            raise CommandError(
                "UNSUBSCRIBE_MAILTO is not set: there is no mailbox to serve."
            )
        controller = controller_build(
            host=host, port=port, mailbox=settings.UNSUBSCRIBE_MAILTO
        )
        controller.start()
        self.stdout.write(
            f"Serving {settings.UNSUBSCRIBE_MAILTO} on {host}:{port}; Ctrl-C stops."
        )
        loop = asyncio.new_event_loop()
        stop = loop.create_future()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set_result, None)
        try:
            loop.run_until_complete(stop)
        finally:
            controller.stop()
            loop.close()
