"""The preference API for product systems (the app's paperless switch, a card's
settings page): record a customer's choice, read what is in effect.

POST /api/v1/customers/{external_id}/preferences runs once per client and
Idempotency-Key, like the trigger API; GET answers the effective preferences
as the consent decision reads them at trigger and at send time.
"""

from django.db import transaction
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from ccm.problems import problems_api
from channels_app import problems as channel_problems
from channels_app.api import IDEMPOTENCY_KEY, IdempotentCreate
from channels_app.models import IdempotencyRecord
from customers.consent import consent_decide
from customers.models import Customer, PreferenceEntry
from customers.services import preference_set
from preferences import problems
from preferences.services import CHANNELS, customer_products
from templates_app.models import Category, Channel

LEDGER_SHOWN = 20
INSTRUCTIONS_MAX = 50


class InstructionSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(
        [PreferenceEntry.ANY_CHANNEL, *Channel.values],
        help_text='"email", "sms", "letter", or "any" for every channel.',
    )
    category = serializers.CharField(
        max_length=64,
        allow_blank=True,
        default="",
        help_text="A category code; blank for every category.",
    )
    scope = serializers.CharField(
        max_length=100,
        allow_blank=True,
        default="",
        help_text="A product or account; blank for every product (customer-wide).",
    )
    opted_in = serializers.BooleanField(
        help_text="false: opt out (letter + false = paperless); true: opt in."
    )

    def validate_category(self, value: str) -> str:
        if value and not Category.objects.filter(code=value).exists():
            raise serializers.ValidationError(problems.CATEGORY_UNKNOWN(code=value))
        return value


class PreferenceRequestSerializer(serializers.Serializer):
    instructions = InstructionSerializer(many=True, allow_empty=False)
    legal_basis = serializers.ChoiceField(PreferenceEntry.LegalBasis.choices)
    source_system = serializers.CharField(
        max_length=100, help_text="The system where the customer made the choice."
    )
    note = serializers.CharField(max_length=500, allow_blank=True, default="")

    def validate_instructions(self, value: list) -> list:
        if len(value) > INSTRUCTIONS_MAX:
            raise serializers.ValidationError(
                problems.INSTRUCTIONS_TOO_MANY(limit=INSTRUCTIONS_MAX)
            )
        return value


class EntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = PreferenceEntry
        fields = [
            "id",
            "channel",
            "category",
            "scope",
            "opted_in",
            "source",
            "legal_basis",
            "source_system",
            "recorded_at",
        ]


def effective_preferences(customer: Customer) -> dict:
    """Return what the consent decision makes of the customer's ledger now."""
    ledger = list(customer.preferences.order_by("-recorded_at", "-id"))

    def decide(channel: str, category: str = "", scope: str = "", kind: str = ""):
        decision = consent_decide(
            customer=None,
            channel=channel,
            category=category,
            scope=scope,
            mandatory=kind == Category.Kind.MANDATORY,
            requires_opt_in=kind == Category.Kind.MARKETING,
            preferences=ledger,
            suppressed=set(),
            address="-",
        )
        return {
            "allowed": decision.allowed,
            "reason": decision.reason,
            "ledger_entry": decision.entry_id,
        }

    categories = list(Category.objects.order_by("code").values_list("code", "kind"))
    return {
        "customer": customer.external_id,
        "paperless": {
            "all_products": not decide(Channel.LETTER)["allowed"],
            "products": {
                product: not decide(Channel.LETTER, scope=product)["allowed"]
                for product in customer_products(customer)
            },
        },
        "categories": {
            code: {
                "kind": kind,
                "channels": {
                    channel: decide(channel, code, "", kind) for channel in CHANNELS
                },
            }
            for code, kind in categories
        },
        "ledger": EntrySerializer(ledger[:LEDGER_SHOWN], many=True).data,
    }


EFFECTIVE = inline_serializer(
    "EffectivePreferences",
    {
        "customer": serializers.CharField(),
        "paperless": serializers.DictField(),
        "categories": serializers.DictField(),
        "ledger": EntrySerializer(many=True),
    },
)


class CustomerPreferences(IdempotentCreate):
    """Record or read one customer's preferences."""

    @extend_schema(
        request=PreferenceRequestSerializer,
        responses={201: EFFECTIVE},
        parameters=[IDEMPOTENCY_KEY],
        summary="Record a customer's preferences (paperless, opt in or out)",
        description=(
            "Each instruction becomes one entry in the preference ledger, with "
            'source "api", the legal basis and the source system. Paperless: '
            '{"channel": "letter", "opted_in": false} with "scope" a product, '
            "or blank for every product. The answer is the effective "
            "preferences, as GET returns them."
        ),
    )
    def post(self, request: Request, external_id: str) -> Response:
        self.external_id = external_id
        return super().post(request)

    def _request_identity(self, request: Request):
        return {"customer": self.external_id, "body": request.data}

    def _create(
        self, request: Request, key: str, record: IdempotencyRecord
    ) -> Response:
        if not isinstance(request.data, dict):
            return Response(
                problems_api({"detail": [channel_problems.BODY_NOT_OBJECT()]}),
                status=status.HTTP_400_BAD_REQUEST,
            )
        customer = Customer.objects.filter(external_id=self.external_id).first()
        if customer is None:
            return Response(
                problems_api(
                    {"customer": [problems.CUSTOMER_UNKNOWN(id=self.external_id)]}
                ),
                status=status.HTTP_404_NOT_FOUND,
            )
        serializer = PreferenceRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payload = serializer.validated_data
        with transaction.atomic():
            for instruction in payload["instructions"]:
                preference_set(
                    customer=customer,
                    source=PreferenceEntry.Source.API,
                    legal_basis=payload["legal_basis"],
                    source_system=payload["source_system"],
                    note=payload["note"],
                    actor=request.user,
                    **instruction,
                )
        return Response(effective_preferences(customer), status=status.HTTP_201_CREATED)

    @extend_schema(
        responses={200: EFFECTIVE},
        summary="Read a customer's effective preferences",
    )
    def get(self, request: Request, external_id: str) -> Response:
        customer = get_object_or_404(Customer.objects.all(), external_id=external_id)
        return Response(effective_preferences(customer))
