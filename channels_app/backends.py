"""Channel backends behind one small interface.

A backend is opened once per worker batch, sends many dispatches, and is
closed: one SMTP connection per batch, one HTTP session per batch. `send`
returns the provider's message id, or raises TransientError (retry later) or
PermanentError (fail now).
"""

import base64
import contextlib
import functools
import json
import re
import secrets
import shutil
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from email.header import Header
from email.utils import formataddr, formatdate, parseaddr
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.message import sanitize_address
from django.core.mail.utils import DNS_NAME
from django.utils import timezone

from ccm.spreadsheets import csv_writer
from channels_app.footers import one_click_url
from channels_app.models import Channel, Dispatch

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


class DeliveryError(Exception):
    """The provider did not take the message."""


class TransientError(DeliveryError):
    """Worth retrying: the provider or network may recover."""


class PermanentError(DeliveryError):
    """Retrying cannot help: the address or the message is refused."""


# What a send comes to: the provider's message id, or why it was not taken.
Result = str | DeliveryError


class Backend(Protocol):
    channel: str

    def open(self) -> None: ...

    def send(self, dispatch: Dispatch) -> str: ...

    def close(self) -> None: ...


def _sender_domain() -> str:
    return settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ")


def message_id(dispatch: Dispatch, domain: str | None = None) -> str:
    """Return the dispatch's stable Message-ID: the same on every attempt.

    The communication's public id makes it unique across installations and
    databases, so downstream systems can de-duplicate on it.
    """
    public_id = dispatch.communication.public_id
    return f"<dispatch-{dispatch.pk}.{public_id}@{domain or _sender_domain()}>"


@functools.lru_cache(maxsize=4096)
def _header(value: str) -> str:
    """Return a header value as RFC 2047 encoded words unless it is plain ASCII."""
    if value.isascii() and value.isprintable() and len(value) <= 900:
        return value
    # Encoded words also neutralise CR/LF: nothing can inject a header. Cached:
    # a bulk run repeats a handful of subjects, and encoding costs ~0.1 ms.
    return Header(value, "utf-8", maxlinelen=76).encode(linesep="\r\n")


def unsubscribe_headers(dispatch: Dispatch) -> dict[str, str]:
    """Return RFC 8058 one-click unsubscribe headers for a marketing email.

    Present when the stored copy's footer carries a one-click link (only
    marketing emails do): List-Unsubscribe names it, and a mailto: when
    UNSUBSCRIBE_MAILTO is set; List-Unsubscribe-Post asks for a bare POST.
    """
    url = one_click_url(dispatch.body_html)
    if not url:
        return {}
    targets = [f"<{url}>"]
    if settings.UNSUBSCRIBE_MAILTO:
        token = url.rsplit("/", 2)[-2]
        targets.append(
            f"<mailto:{settings.UNSUBSCRIBE_MAILTO}?subject=unsubscribe%20{token}>"
        )
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def _base64_part(content_type: str, text: str) -> bytes:
    body = base64.encodebytes(text.encode()).replace(b"\n", b"\r\n")
    return (
        f'Content-Type: {content_type}; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode() + body


def email_bytes(
    dispatch: Dispatch, *, from_header: str, domain: str, mid: str | None = None
) -> bytes:
    """Return the dispatch as an RFC 5322 message: text, plus HTML as alternative.

    Assembled directly rather than through EmailMultiAlternatives, which costs
    about 1 ms per message (20 times this): the hidden bottleneck of bulk email.
    Bodies are UTF-8 in base64 (any line length, no 8BITMIME needed). The
    HTML part is the stored copy as it is: since the copy is stored as a whole
    document (language, direction), what the console shows is what went out.
    """
    head = (
        f"From: {from_header}\r\n"
        f"To: {dispatch.address}\r\n"
        f"Subject: {_header(dispatch.subject)}\r\n"
        f"Date: {formatdate()}\r\n"
        f"Message-ID: {mid or message_id(dispatch, domain)}\r\n"
        f"X-CCM-Dispatch: {dispatch.pk}\r\n"
        + "".join(
            f"{name}: {value}\r\n"
            for name, value in unsubscribe_headers(dispatch).items()
        )
        + (f"Content-Language: {dispatch.language}\r\n" if dispatch.language else "")
        + "MIME-Version: 1.0\r\n"
    )
    text = _base64_part("text/plain", dispatch.body_text)
    if not dispatch.body_html:
        return head.encode() + text
    # base64 lines never start with "-", so no body line can match the boundary.
    boundary = f"==ccm-{dispatch.pk}-{secrets.token_hex(8)}"
    return b"".join(
        (
            head.encode(),
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\n".encode(),
            text,
            f"--{boundary}\r\n".encode(),
            _base64_part("text/html", dispatch.body_html),
            f"--{boundary}--\r\n".encode(),
        )
    )


def _smtp_error(exc: smtplib.SMTPResponseException, what: str) -> DeliveryError:
    text = f"{exc.smtp_code} {exc.smtp_error!r}"
    if 500 <= exc.smtp_code < 600:
        return PermanentError(f"mail server refused {what}: {text}")
    return TransientError(f"mail server deferred {what}: {text}")


def _reply_error(code: int, text: bytes, what: str) -> DeliveryError:
    return _smtp_error(smtplib.SMTPResponseException(code, text), what)


def _dot_stuffed(raw: bytes) -> bytes:
    """Return message content ready for DATA: leading dots doubled, end marker."""
    if not raw.endswith(b"\r\n"):
        raw += b"\r\n"
    return re.sub(rb"(?m)^\.", b"..", raw) + b".\r\n"


class EmailBackend:
    """Email over one SMTP connection per batch, with prebuilt MIME messages.

    With Django's SMTP backend configured (production), messages go straight
    through smtplib on one connection; with any other Django backend (files in
    the embedded setup, memory in tests) they go through that backend.
    """

    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None
        self.connection = None
        self.direct = settings.EMAIL_BACKEND == SMTP_BACKEND
        self.domain = _sender_domain()
        self.envelope_from = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
        name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
        self.from_header = (
            settings.DEFAULT_FROM_EMAIL
            if settings.DEFAULT_FROM_EMAIL.isascii()
            else formataddr((name, address), charset="utf-8")
        )

    def open(self) -> None:
        if not self.direct:
            self.connection = get_connection(fail_silently=False)
            try:
                self.connection.open()
            except (OSError, smtplib.SMTPException) as exc:
                self.connection = None
                raise TransientError(
                    f"cannot connect to the mail server: {exc}"
                ) from exc
            return
        try:
            self.smtp = self._smtp_connect()
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentError(f"mail server refused the login: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self.smtp = None
            raise TransientError(f"cannot connect to the mail server: {exc}") from exc

    def _smtp_connect(self) -> smtplib.SMTP:
        options = {
            "host": settings.EMAIL_HOST,
            "port": settings.EMAIL_PORT,
            "timeout": settings.EMAIL_TIMEOUT,
            "local_hostname": DNS_NAME.get_fqdn(),
        }
        context = (
            ssl.create_default_context()
            if (settings.EMAIL_USE_SSL or settings.EMAIL_USE_TLS)
            else None
        )
        if settings.EMAIL_USE_SSL:
            smtp = smtplib.SMTP_SSL(context=context, **options)
        else:
            smtp = smtplib.SMTP(**options)
        try:
            smtp.ehlo()
            if settings.EMAIL_USE_TLS:
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.EMAIL_HOST_USER:
                smtp.login(settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD)
        except BaseException:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                smtp.close()
            raise
        return smtp

    def send(self, dispatch: Dispatch) -> str:
        if "\r" in dispatch.address or "\n" in dispatch.address:
            raise PermanentError("the address contains a line break")
        mid = message_id(dispatch, self.domain)
        if not self.direct:
            return self._send_django(dispatch, mid)
        if self.smtp is None:
            self.open()
        to = dispatch.address
        if not to.isascii():
            # Punycode the domain, as Django's SMTP backend does.
            to = sanitize_address(to, "utf-8")
        raw = email_bytes(
            dispatch, from_header=self.from_header, domain=self.domain, mid=mid
        )
        try:
            self.smtp.sendmail(self.envelope_from, [to], raw)
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPServerDisconnected as exc:
            self._reset()
            raise TransientError(f"mail server unavailable: {exc}") from exc
        except smtplib.SMTPResponseException as exc:
            # smtplib has sent RSET: the connection stays usable for the batch.
            raise _smtp_error(exc, "the message") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()
            raise TransientError(f"mail server unavailable: {exc}") from exc
        return mid

    def send_stream(
        self, dispatches: Iterable[Dispatch]
    ) -> Iterator[tuple[Dispatch, Result]]:
        """Send over one connection, pipelined when the server offers PIPELINING.

        Each message costs one round trip instead of four: its content and
        end-of-data go in one write with the next message's MAIL, RCPT and
        DATA (RFC 2920 allows content first and DATA last in a group). A
        message's result is yielded as soon as its end-of-data is answered,
        before the next reply is read, so the caller can record it at once.
        """
        if not self.direct or self.smtp is None or not self.smtp.has_extn("pipelining"):
            for dispatch in dispatches:
                try:
                    yield dispatch, self.send(dispatch)
                except DeliveryError as exc:
                    yield dispatch, exc
            return
        pending: tuple[Dispatch, str, bytes] | None = None
        upcoming = iter(dispatches)
        following = next(upcoming, None)
        reset = False
        while pending is not None or following is not None:
            if self.smtp is None:
                # The connection broke: every later message tries a new one.
                try:
                    self.open()
                except DeliveryError as exc:
                    yield following, exc
                    following = next(upcoming, None)
                    continue
                reset = False
            group, envelope = [], None
            if pending is not None:
                group.append(pending[2])
            if following is not None:
                envelope = following
                problem = self._envelope(following, group, reset)
                if problem is not None:
                    envelope = None
                    yield following, problem
                    following = next(upcoming, None)
                    if pending is None:
                        continue
            try:
                self.smtp.send(b"".join(group))
                if pending is not None:
                    dispatch, mid, _ = pending
                    pending = None
                    code, text = self.smtp.getreply()
                    if code == 250:
                        yield dispatch, mid
                    else:
                        yield dispatch, _reply_error(code, text, "the message")
                if envelope is None:
                    continue
                replies = [self.smtp.getreply() for _ in range(4 if reset else 3)]
            except (OSError, smtplib.SMTPException) as exc:
                self._reset()
                error = TransientError(f"mail server unavailable: {exc}")
                if pending is not None:
                    yield pending[0], error
                    pending = None
                if envelope is not None:
                    yield envelope, error
                    following = next(upcoming, None)
                continue
            mail, rcpt, data = replies[-3:]
            following = next(upcoming, None)
            reset = data[0] != 354
            if not reset:
                mid = message_id(envelope, self.domain)
                raw = email_bytes(
                    envelope, from_header=self.from_header, domain=self.domain, mid=mid
                )
                pending = (envelope, mid, _dot_stuffed(raw))
            elif mail[0] != 250:
                yield envelope, _reply_error(*mail, "the sender")
            elif rcpt[0] not in (250, 251):
                if 500 <= rcpt[0] < 600:
                    yield (
                        envelope,
                        PermanentError(f"recipient refused: {rcpt[0]} {rcpt[1]!r}"),
                    )
                else:
                    yield envelope, _reply_error(*rcpt, "the recipient")
            else:
                yield envelope, _reply_error(*data, "the message")

    def _envelope(
        self, dispatch: Dispatch, group: list[bytes], reset: bool
    ) -> DeliveryError | None:
        """Append MAIL, RCPT and DATA for a dispatch to a pipelined group."""
        to = dispatch.address
        if "\r" in to or "\n" in to:
            return PermanentError("the address contains a line break")
        if not to.isascii():
            to = sanitize_address(to, "utf-8")
        group.append(
            (
                ("RSET\r\n" if reset else "") + f"MAIL FROM:<{self.envelope_from}>\r\n"
                f"RCPT TO:<{parseaddr(to)[1]}>\r\nDATA\r\n"
            ).encode()
        )
        return None

    def _send_django(self, dispatch: Dispatch, mid: str) -> str:
        if self.connection is None:
            self.open()
        message = EmailMultiAlternatives(
            subject=dispatch.subject,
            body=dispatch.body_text,
            to=[dispatch.address],
            headers={
                "Message-ID": mid,
                "X-CCM-Dispatch": str(dispatch.pk),
                **unsubscribe_headers(dispatch),
            },
            connection=self.connection,
        )
        if dispatch.language:
            message.extra_headers["Content-Language"] = dispatch.language
        if dispatch.body_html:
            message.attach_alternative(dispatch.body_html, "text/html")
        try:
            sent = self.connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _smtp_error(exc, "the message") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()
            raise TransientError(f"mail server unavailable: {exc}") from exc
        if sent != 1:
            raise TransientError("mail server did not accept the message")
        return mid

    def _reset(self) -> None:
        # A broken connection must not be reused for the rest of the batch.
        if self.smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.smtp.quit()
            self.smtp = None
        if self.connection is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self.connection.close()
            self.connection = None

    def close(self) -> None:
        self._reset()


class FileSmsBackend:
    """SMS written one JSON file per dispatch (the embedded default).

    The file is named after the dispatch, so a retry overwrites rather than
    duplicates.
    """

    channel = Channel.SMS

    def open(self) -> None:
        Path(settings.SMS_FILE_DIR).mkdir(parents=True, exist_ok=True)

    def send(self, dispatch: Dispatch) -> str:
        path = Path(settings.SMS_FILE_DIR) / f"dispatch-{dispatch.pk}.json"
        payload = {
            "to": dispatch.address,
            "sender": settings.SMS_SENDER_ID,
            "text": dispatch.body_text,
            "reference": str(dispatch.pk),
            "at": timezone.now().isoformat(),
        }
        path.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        return path.name

    def close(self) -> None:
        return None


class HttpSmsBackend:
    """SMS posted as JSON to an HTTP provider, keyed by the dispatch for idempotency."""

    channel = Channel.SMS

    def open(self) -> None:
        if not settings.SMS_HTTP_URL:
            raise PermanentError("SMS_PROVIDER is http but SMS_HTTP_URL is empty")

    def send(self, dispatch: Dispatch) -> str:
        body = json.dumps(
            {
                "to": dispatch.address,
                "sender": settings.SMS_SENDER_ID,
                "text": dispatch.body_text,
                "reference": str(dispatch.pk),
            }
        ).encode()
        request = urllib.request.Request(  # noqa: S310 (URL is operator configuration)
            settings.SMS_HTTP_URL,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {settings.SMS_HTTP_TOKEN}",
                "Idempotency-Key": f"dispatch-{dispatch.pk}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            detail = f"SMS provider answered {exc.code}"
            if exc.code >= 500 or exc.code == 429:
                raise TransientError(detail) from exc
            raise PermanentError(detail) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransientError(f"SMS provider unreachable: {exc}") from exc
        except ValueError as exc:
            raise TransientError("SMS provider answered with invalid JSON") from exc
        return str(answer.get("id", ""))

    def close(self) -> None:
        return None


class PrintLetterBackend:
    """Letters handed to the print vendor: PDFs in a dated batch folder.

    Each batch folder holds the PDFs and a manifest.csv (dispatch, address,
    file, SHA-256) for the vendor, its text cells neutralised against formula
    injection (`ccm.spreadsheets`); the manifest is opened once per batch and
    each line is flushed as its letter is handed over.
    """

    channel = Channel.LETTER

    def __init__(self) -> None:
        self.manifest = None

    def open(self) -> None:
        self.folder = (
            Path(settings.MEDIA_ROOT) / "print" / timezone.now().strftime("%Y-%m-%d")
        )
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "manifest.csv"
        is_new = not path.exists()
        self.manifest = open(path, "a", newline="", encoding="utf-8")  # noqa: SIM115
        self.writer = csv_writer(self.manifest)
        if is_new:
            self.writer.writerow(["dispatch", "address", "file", "sha256"])

    def send(self, dispatch: Dispatch) -> str:
        if not dispatch.letter_pdf:
            raise PermanentError("the letter has no stored PDF")
        if self.manifest is None:
            self.open()
        name = f"dispatch-{dispatch.pk}.pdf"
        with (
            dispatch.letter_pdf.open("rb") as source,
            open(self.folder / name, "wb") as target,
        ):
            shutil.copyfileobj(source, target)
        self.writer.writerow(
            [dispatch.pk, dispatch.address, name, dispatch.content_sha256]
        )
        self.manifest.flush()
        return f"print/{self.folder.name}/{name}"

    def close(self) -> None:
        if self.manifest is not None:
            self.manifest.close()
            self.manifest = None


def backend_for(channel: str) -> Backend:
    """Return a fresh backend for a channel, as configured."""
    if channel == Channel.EMAIL:
        return EmailBackend()
    if channel == Channel.SMS:
        return HttpSmsBackend() if settings.SMS_PROVIDER == "http" else FileSmsBackend()
    if channel == Channel.LETTER:
        return PrintLetterBackend()
    raise ValueError(f"no backend for channel {channel!r}")


def sends(
    backend: Backend, dispatches: Iterable[Dispatch]
) -> Iterator[tuple[Dispatch, Result]]:
    """Send each dispatch; yield it with its provider id or its error, in order.

    A backend with a `send_stream` (pipelined SMTP) is used as a stream: it
    pulls the next dispatch while the provider still answers the last one.
    """
    stream = getattr(backend, "send_stream", None)
    if stream is not None:
        yield from stream(dispatches)
        return
    for dispatch in dispatches:
        try:
            yield dispatch, backend.send(dispatch)
        except DeliveryError as exc:
            yield dispatch, exc
