"""Inbound SMS: a STOP reply stops SMS marketing; other text waits for an agent.

The provider posts each message to /api/v1/inbound/sms, signed like delivery
receipts (X-CCM-Timestamp, X-CCM-Signature over "<timestamp>.<raw body>" with
RECEIPT_WEBHOOK_SECRET; stale or future-dated bodies are refused); a message
id already accepted is refused as a replay (its ids are kept for good). A
STOP in English or Arabic, in any case, with spaces or diacritics, opts
every customer with that number out of every marketing category on SMS
(ledger source "sms_reply") and answers with the confirmation template
(SMS_STOP_CONFIRMATION_TEMPLATE, a mandatory notice) through the SMS channel.
"""

import logging
import re
import unicodedata

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.dispatching import TriggerRefused, communication_trigger
from channels_app.models import Channel, InboundMessage
from channels_app.problems import WEBHOOK_REPLAYED
from channels_app.webhooks import WebhookRefused, signed_request_refusal
from customers.models import Customer, PreferenceEntry, phone_normalise
from customers.services import marketing_opt_out

logger = logging.getLogger(__name__)

# Compared after `stop_normalise`: lower case, no spaces, no punctuation,
# Arabic without diacritics or tatweel and with one form of alef.
STOP_WORDS = frozenset(
    {
        "stop",
        "stopall",
        "unsubscribe",
        "cancel",
        "end",
        "quit",
        "optout",
        "ايقاف",  # إيقاف
        "توقف",
        "وقف",
        "قف",
        "الغاء",  # إلغاء
        "الغاءالاشتراك",
        "لاترسل",
    }
)
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u0640]")
_ALEFS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})


def stop_normalise(text: str) -> str:
    """Return the text reduced to the letters a STOP word is compared on."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _ARABIC_MARKS.sub("", text).translate(_ALEFS)
    return "".join(ch for ch in text if ch.isalnum())


def is_stop(text: str) -> bool:
    """Return whether a reply asks to stop (STOP, stop, " Stop ", إيقاف, ...)."""
    return stop_normalise(text) in STOP_WORDS


def _customers_of(sender: str) -> list[Customer]:
    try:
        number = phone_normalise(sender)
    except ValidationError:
        return []
    if not number:
        return []
    return list(Customer.objects.filter(phone=number).order_by("id"))


def _confirm(customer: Customer, provider_id: str) -> None:
    """Answer a STOP with the mandatory confirmation, when one is approved."""
    try:
        communication_trigger(
            template_code=settings.SMS_STOP_CONFIRMATION_TEMPLATE,
            customer=customer,
            data={},
            channels=[Channel.SMS],
            requester_label="sms-stop",
            source_system="sms-inbound",
            source_reference=provider_id,
        )
    except TriggerRefused as refusal:
        # Recorded, not raised: the stop itself holds without the answer.
        logger.warning("STOP confirmation not sent: %s", "; ".join(refusal.problems))


@transaction.atomic
def inbound_sms_record(*, provider_id: str, sender: str, text: str) -> InboundMessage:
    """Record an inbound SMS; act on a STOP. Raise WebhookRefused on a replay."""
    kind = InboundMessage.Kind.STOP if is_stop(text) else InboundMessage.Kind.MESSAGE
    try:
        with transaction.atomic():
            message = InboundMessage.objects.create(
                channel=Channel.SMS,
                provider_id=provider_id,
                sender=sender,
                text=text,
                kind=kind,
            )
    except IntegrityError:
        raise WebhookRefused("id", WEBHOOK_REPLAYED(id=provider_id)) from None
    customers = _customers_of(sender)
    message.customers.set(customers)
    if kind == InboundMessage.Kind.STOP:
        for customer in customers:
            marketing_opt_out(
                customer=customer,
                channel=Channel.SMS,
                source=PreferenceEntry.Source.SMS_REPLY,
                note=f"SMS reply: {text.strip()[:40]}",
                actor_label="customer (SMS reply)",
            )
            _confirm(customer, provider_id)
    return message


class InboundSmsSerializer(serializers.Serializer):
    id = serializers.CharField(
        max_length=200, help_text="The provider's unique id; a replay is refused."
    )
    sender = serializers.CharField(
        max_length=40, help_text="The number the message came from."
    )
    text = serializers.CharField(
        max_length=2000, allow_blank=True, trim_whitespace=False
    )


class InboundSmsWebhook(APIView):
    """SMS messages customers send us, signed with HMAC-SHA256 like receipts."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        request=InboundSmsSerializer,
        responses={204: None},
        summary="Record an inbound SMS (STOP stops SMS marketing)",
    )
    def post(self, request: Request) -> Response:
        if (refusal := signed_request_refusal(request, "webhooks")) is not None:
            return refusal
        serializer = InboundSmsSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        try:
            inbound_sms_record(
                provider_id=body["id"], sender=body["sender"], text=body["text"]
            )
        except WebhookRefused as refused:
            return Response(refused.as_api(), status=status.HTTP_409_CONFLICT)
        return Response(status=status.HTTP_204_NO_CONTENT)
