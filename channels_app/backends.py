"""Channel backends behind one small interface.

A backend is opened once per worker batch, sends many dispatches, and is
closed: one SMTP connection per batch, one HTTP session per batch. `send`
returns the provider's message id, or raises TransientError (retry later) or
PermanentError (fail now).
"""

import contextlib
import csv
import json
import shutil
import smtplib
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.utils import timezone

from channels_app.models import Channel, Dispatch


class DeliveryError(Exception):
    """The provider did not take the message."""


class TransientError(DeliveryError):
    """Worth retrying: the provider or network may recover."""


class PermanentError(DeliveryError):
    """Retrying cannot help: the address or the message is refused."""


class Backend(Protocol):
    channel: str

    def open(self) -> None: ...

    def send(self, dispatch: Dispatch) -> str: ...

    def close(self) -> None: ...


def message_id(dispatch: Dispatch) -> str:
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1].strip("> ")
    return f"<dispatch-{dispatch.pk}@{domain}>"


class EmailBackend:
    """Email through Django's configured email backend (SMTP in production)."""

    channel = Channel.EMAIL

    def __init__(self) -> None:
        self.connection = None

    def open(self) -> None:
        self.connection = get_connection(fail_silently=False)
        try:
            self.connection.open()
        except (OSError, smtplib.SMTPException) as exc:
            self.connection = None
            raise TransientError(f"cannot connect to the mail server: {exc}") from exc

    def send(self, dispatch: Dispatch) -> str:
        if self.connection is None:
            self.open()
        mid = message_id(dispatch)
        message = EmailMultiAlternatives(
            subject=dispatch.subject,
            body=dispatch.body_text,
            to=[dispatch.address],
            headers={"Message-ID": mid, "X-CCM-Dispatch": str(dispatch.pk)},
            connection=self.connection,
        )
        if dispatch.body_html:
            message.attach_alternative(dispatch.body_html, "text/html")
        try:
            sent = self.connection.send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            raise PermanentError(f"recipient refused: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            self._reset()
            text = f"{exc.smtp_code} {exc.smtp_error!r}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentError(f"mail server refused: {text}") from exc
            raise TransientError(f"mail server deferred: {text}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._reset()
            raise TransientError(f"mail server unavailable: {exc}") from exc
        if sent != 1:
            raise TransientError("mail server did not accept the message")
        return mid

    def _reset(self) -> None:
        # A broken connection must not be reused for the rest of the batch.
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

    Each batch folder holds the PDFs and a manifest.csv (dispatch, customer,
    address, file, SHA-256) for the vendor.
    """

    channel = Channel.LETTER

    def open(self) -> None:
        self.folder = (
            Path(settings.MEDIA_ROOT) / "print" / timezone.now().strftime("%Y-%m-%d")
        )
        self.folder.mkdir(parents=True, exist_ok=True)

    def send(self, dispatch: Dispatch) -> str:
        if not dispatch.letter_pdf:
            raise PermanentError("the letter has no stored PDF")
        name = f"dispatch-{dispatch.pk}.pdf"
        with (
            dispatch.letter_pdf.open("rb") as source,
            open(self.folder / name, "wb") as target,
        ):
            shutil.copyfileobj(source, target)
        manifest = self.folder / "manifest.csv"
        is_new = not manifest.exists()
        with open(manifest, "a", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            if is_new:
                writer.writerow(["dispatch", "address", "file", "sha256"])
            writer.writerow(
                [dispatch.pk, dispatch.address, name, dispatch.content_sha256]
            )
        return f"print/{self.folder.name}/{name}"

    def close(self) -> None:
        return None


def backend_for(channel: str) -> Backend:
    """Return a fresh backend for a channel, as configured."""
    if channel == Channel.EMAIL:
        return EmailBackend()
    if channel == Channel.SMS:
        return HttpSmsBackend() if settings.SMS_PROVIDER == "http" else FileSmsBackend()
    if channel == Channel.LETTER:
        return PrintLetterBackend()
    raise ValueError(f"no backend for channel {channel!r}")
