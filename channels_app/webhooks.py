"""Signed webhooks from providers: fresh, authentic and each accepted once.

A provider signs `<timestamp>.<raw body>` with the shared secret (HMAC-SHA256)
and sends the Unix time it signed at in X-CCM-Timestamp. A body signed longer
ago than RECEIPT_WEBHOOK_TOLERANCE seconds, or dated more than
RECEIPT_WEBHOOK_CLOCK_SKEW seconds ahead, is refused (401, with a problem
code), and a receipt id already accepted is refused (409), so a captured
receipt can never be replayed.
"""

import hashlib
import hmac
import time
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ccm.problems import Problem
from channels_app import problems
from channels_app.lifecycle import DispatchStateError
from channels_app.models import Dispatch, ReceiptSeen
from channels_app.services import dispatch_receipt_record


class WebhookRefused(Exception):
    """A webhook was refused; `field` names the header or field at fault."""

    def __init__(self, field: str, problem: Problem) -> None:
        super().__init__(str(problem))
        self.field = field
        self.problem = problem

    def as_api(self) -> dict:
        return {self.field: [self.problem.as_api()]}


def receipt_signature(body: bytes, secret: str, *, timestamp: int | str) -> str:
    """Return the signature a provider sends in X-CCM-Signature."""
    signed = f"{timestamp}.".encode() + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def receipt_authenticate(
    *, body: bytes, timestamp: str, signature: str, secret: str
) -> None:
    """Refuse a body not signed with the secret, signed too long ago or ahead."""
    window = settings.RECEIPT_WEBHOOK_TOLERANCE
    skew = settings.RECEIPT_WEBHOOK_CLOCK_SKEW
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise WebhookRefused("X-CCM-Timestamp", problems.WEBHOOK_TIMESTAMP_INVALID())
    age = int(time.time()) - int(timestamp)
    if age > window:
        raise WebhookRefused(
            "X-CCM-Timestamp", problems.WEBHOOK_TIMESTAMP_STALE(age=age, window=window)
        )
    if -age > skew:
        raise WebhookRefused(
            "X-CCM-Timestamp", problems.WEBHOOK_TIMESTAMP_AHEAD(ahead=-age, skew=skew)
        )
    expected = receipt_signature(body, secret, timestamp=timestamp)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise WebhookRefused("X-CCM-Signature", problems.WEBHOOK_SIGNATURE_WRONG())


def receipt_id_claim(*, channel: str, receipt_id: str) -> None:
    """Record a receipt id, refusing one already accepted within the window.

    Called inside the transaction that applies the receipt, so a receipt that
    is refused later leaves its id free. Ids are kept in the database (every
    web process sees them) for the window plus the clock skew and as long
    again; older ones are pruned: their signatures have expired.
    """
    try:
        with transaction.atomic():
            ReceiptSeen.objects.create(channel=channel, receipt_id=receipt_id)
    except IntegrityError:
        raise WebhookRefused("id", problems.WEBHOOK_REPLAYED(id=receipt_id)) from None
    kept = 2 * (
        settings.RECEIPT_WEBHOOK_TOLERANCE + settings.RECEIPT_WEBHOOK_CLOCK_SKEW
    )
    horizon = timezone.now() - timedelta(seconds=kept)
    ReceiptSeen.objects.filter(received_at__lt=horizon).delete()


class ReceiptSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=200,
        help_text="The provider's unique id of this receipt; a replay is refused.",
    )
    reference = serializers.IntegerField(
        help_text="The dispatch id sent to the provider."
    )
    event = serializers.ChoiceField(
        ["delivered", "bounced", "failed", "complaint"],
        help_text="complaint: the recipient reported the message as spam.",
    )
    hard = serializers.BooleanField(default=False)
    detail = serializers.CharField(required=False, allow_blank=True, default="")


def signed_request_refusal(request: Request, what: str) -> Response | None:
    """Refuse a webhook call that is not signed with the shared secret.

    Return the answer to give (503 while webhooks are disabled, 401 with a
    problem code for a missing, wrong, stale or future-dated signature), or
    None to go on.
    """
    secret = settings.RECEIPT_WEBHOOK_SECRET
    if not secret:
        return Response(
            {"detail": f"{what} are disabled: RECEIPT_WEBHOOK_SECRET is not set"},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    try:
        receipt_authenticate(
            body=request.body,
            timestamp=request.headers.get("X-CCM-Timestamp", ""),
            signature=request.headers.get("X-CCM-Signature", ""),
            secret=secret,
        )
    except WebhookRefused as refused:
        return Response(
            refused.as_api(),
            status=status.HTTP_401_UNAUTHORIZED,
            headers={"WWW-Authenticate": 'CCM-HMAC-SHA256 realm="webhooks"'},
        )
    return None


class ReceiptWebhook(APIView):
    """Delivery receipts from email and SMS providers, signed with HMAC-SHA256."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=ReceiptSerializer,
        responses={204: None},
        parameters=[
            OpenApiParameter(
                "X-CCM-Timestamp",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="Unix time (seconds) the body was signed at",
            ),
            OpenApiParameter(
                "X-CCM-Signature",
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC of '<timestamp>.<raw body>' with the"
                " shared secret>",
            ),
        ],
        summary="Record a delivery receipt (delivered, bounced, failed, complaint)",
    )
    def post(self, request: Request, channel: str) -> Response:
        if (refusal := signed_request_refusal(request, "receipts")) is not None:
            return refusal
        serializer = ReceiptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        receipt = serializer.validated_data
        dispatch = Dispatch.objects.filter(
            pk=receipt["reference"], channel=channel
        ).first()
        if dispatch is None:
            return Response(
                {"reference": [f"no {channel} dispatch #{receipt['reference']}"]},
                status=status.HTTP_404_NOT_FOUND,
            )
        try:
            with transaction.atomic():
                receipt_id_claim(channel=channel, receipt_id=receipt["id"])
                dispatch_receipt_record(
                    dispatch=dispatch,
                    event=receipt["event"],
                    hard=receipt["hard"],
                    detail=receipt["detail"],
                    provider=f"{channel} receipts",
                )
        except WebhookRefused as refused:
            return Response(refused.as_api(), status=status.HTTP_409_CONFLICT)
        except DispatchStateError as exc:
            return Response({"event": exc.as_api()}, status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
