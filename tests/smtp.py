"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter


class SmtpSink:
    """An aiosmtpd handler keeping every message; it can refuse on demand."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Event()
        # (code, text) answered to DATA instead of 250 while set.
        self.refuse_with: tuple[int, str] | None = None
        # Recipients refused at RCPT TO with 550, as a mailbox that does not exist.
        self.unknown_recipients: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown_recipients:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            code, text = self.refuse_with
            return f"{code} {text}"
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        self.arrived.set()
        return "250 Message accepted"

    def dispatch_counts(self) -> Counter:
        """Return how many messages arrived per dispatch id."""
        return Counter(message["X-CCM-Dispatch"] for message in self.messages)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def smtp_start(sink: SmtpSink, port: int):
    from aiosmtpd.controller import Controller

    controller = Controller(
        sink, hostname="127.0.0.1", port=port, loop=asyncio.new_event_loop()
    )
    controller.start()
    return controller
