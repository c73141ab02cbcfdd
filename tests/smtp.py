"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives."""

import asyncio
import email
import email.policy
import socket
import threading
from collections import Counter


class SmtpSink:
    """An aiosmtpd handler keeping every message; it can refuse on demand.

    It offers PIPELINING, as production mail servers do (aiosmtpd handles
    pipelined commands but does not say so); `pipelining=False` hides it.
    With `keep=False` it only counts messages by their X-CCM-Dispatch header.
    """

    def __init__(self, *, pipelining: bool = True, keep: bool = True) -> None:
        self.pipelining, self.keep = pipelining, keep
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        self.messages: list[email.message.EmailMessage] = []
        self.arrived = threading.Event()
        # (code, text) answered to DATA instead of 250 while set.
        self.refuse_with: tuple[int, str] | None = None
        # Recipients refused at RCPT TO with 550, as a mailbox that does not exist.
        self.unknown_recipients: set[str] = set()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if not self.pipelining:
            return responses
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown_recipients:
            # As Postfix answers: the refusal quotes the address.
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.refuse_with:
            code, text = self.refuse_with
            return f"{code} {text}"
        content = envelope.content
        found = content.find(b"\r\nX-CCM-Dispatch: ")
        dispatch = None
        if found >= 0:
            start = found + len(b"\r\nX-CCM-Dispatch: ")
            dispatch = content[start : content.find(b"\r\n", start)].decode()
        with self.lock:
            self.counts[dispatch] += 1
            if self.keep:
                self.messages.append(
                    email.message_from_bytes(content, policy=email.policy.default)
                )
        self.arrived.set()
        return "250 Message accepted"

    def received(self) -> int:
        """Return how many messages arrived."""
        with self.lock:
            return self.counts.total()

    def dispatch_counts(self) -> Counter:
        """Return how many messages arrived per dispatch id."""
        with self.lock:
            return Counter(self.counts)


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
