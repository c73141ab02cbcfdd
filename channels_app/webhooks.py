"""Signed webhooks from providers: fresh, authentic and each accepted once.

A provider signs `<timestamp>.<raw body>` with the shared secret (HMAC-SHA256)
and sends the Unix time it signed at in X-CCM-Timestamp. A body signed longer
ago than RECEIPT_WEBHOOK_TOLERANCE seconds (or that far in the future) is
refused, and within that window a receipt id already accepted is refused, so
a captured receipt can never be replayed.
"""

import hashlib
import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from channels_app.models import ReceiptSeen


class WebhookRefused(Exception):
    """A webhook was refused; `field` names the header or field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def receipt_signature(body: bytes, secret: str, *, timestamp: int | str) -> str:
    """Return the signature a provider sends in X-CCM-Signature."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def receipt_authenticate(
    *, body: bytes, timestamp: str, signature: str, secret: str
) -> None:
    """Refuse a body that is not signed with the secret, or signed too long ago."""
    tolerance = settings.RECEIPT_WEBHOOK_TOLERANCE
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused(
            "X-CCM-Timestamp", "missing or not a Unix time in whole seconds"
        )
    if abs(time.time() - int(timestamp)) > tolerance:
        raise WebhookRefused(
            "X-CCM-Timestamp",
            f"signed more than {tolerance} seconds from now; sign each delivery"
            " with the current time",
        )
    expected = receipt_signature(body, secret, timestamp=timestamp)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise WebhookRefused("X-CCM-Signature", "missing or wrong signature")


def receipt_id_claim(*, channel: str, receipt_id: str) -> None:
    """Record a receipt id, refusing one already accepted within the window.

    Called inside the transaction that applies the receipt, so a receipt that
    is refused later leaves its id free. Ids older than twice the window are
    pruned: their signatures have expired.
    """
    try:
        with transaction.atomic():
            ReceiptSeen.objects.create(channel=channel, receipt_id=receipt_id)
    except IntegrityError:
        raise WebhookRefused(
            "id", f"receipt {receipt_id} was already accepted; replays are refused"
        ) from None
    horizon = timezone.now() - timedelta(seconds=2 * settings.RECEIPT_WEBHOOK_TOLERANCE)
    ReceiptSeen.objects.filter(received_at__lt=horizon).delete()
