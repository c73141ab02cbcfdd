"""The API of data subjects' rights: erase a customer, export what is held."""

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from channels_app.api import IDEMPOTENCY_KEY, IdempotentCreate
from channels_app.models import IdempotencyRecord
from customers.models import Customer
from subject_rights.erasure import customer_erase
from subject_rights.export import customer_export, customer_export_pdf, export_record
from subject_rights.models import ErasureRequest


class CanErase(permissions.BasePermission):
    """The client holds subject_rights.add_erasurerequest."""

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm("subject_rights.add_erasurerequest")
        )


class CanExport(permissions.BasePermission):
    """The client holds subject_rights.export_subject_data."""

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user
            and request.user.is_authenticated
            and request.user.has_perm("subject_rights.export_subject_data")
        )


class ErasureRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)
    reference = serializers.CharField(max_length=200)


ERASURE_ANSWER = inline_serializer(
    "ErasureDone",
    {
        "id": serializers.IntegerField(),
        "reference": serializers.CharField(),
        "status": serializers.ChoiceField(choices=ErasureRequest.Status.choices),
        "requested_at": serializers.DateTimeField(),
        "erased": serializers.DictField(),
        "kept": serializers.ListField(child=serializers.DictField()),
    },
)


def _unknown(external_id: str) -> Response:
    return Response(
        {"customer": [f"unknown customer {external_id!r}"]},
        status=status.HTTP_404_NOT_FOUND,
    )


class CustomerErasure(IdempotentCreate):
    """Erase a customer's personal data on their request."""

    permission_classes = [CanErase]

    @extend_schema(
        request=ErasureRequestSerializer,
        responses={201: ERASURE_ANSWER},
        parameters=[IDEMPOTENCY_KEY],
        summary="Erase a customer's personal data (a data subject's request)",
        description=(
            "Erases the customer record, contact points, stored copies, PDFs, "
            "data snapshots, what agents wrote and the personal parts of the "
            "audit trail, except what a legal hold or a retention duty keeps: "
            "the answer lists what was erased and what was kept, and why. "
            "The customer's external id is replaced: later calls with it "
            "find no customer."
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
        customer = Customer.objects.filter(external_id=self.external_id).first()
        if customer is None:
            return _unknown(self.external_id)
        serializer = ErasureRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            done = customer_erase(
                customer=customer,
                actor=request.user,
                reason=serializer.validated_data["reason"],
                reference=serializer.validated_data["reference"],
                source=ErasureRequest.Source.API,
            )
        except ValidationError as exc:
            return Response({"detail": exc.messages}, status=status.HTTP_409_CONFLICT)
        return Response(
            {
                "id": done.pk,
                "reference": done.reference,
                "status": done.status,
                "requested_at": done.requested_at.isoformat(),
                "erased": done.erased,
                "kept": done.kept,
            },
            status=status.HTTP_201_CREATED,
        )


class CustomerExport(APIView):
    """Export what is held about a customer, as JSON or a PDF in their language."""

    permission_classes = [CanExport]

    def perform_content_negotiation(self, request, force=False):
        # ?format= chooses the export (json or pdf), not a DRF renderer.
        renderer = JSONRenderer()
        return renderer, renderer.media_type

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "format", str, enum=["json", "pdf"], description="json (default) or pdf"
            )
        ],
        responses={200: OpenApiTypes.OBJECT},
        summary="Export what is held about a customer (a data subject's access)",
    )
    def get(self, request: Request, external_id: str):
        customer = Customer.objects.filter(external_id=external_id).first()
        if customer is None:
            return _unknown(external_id)
        fmt = request.query_params.get("format", "json")
        if fmt not in ("json", "pdf"):
            return Response(
                {"format": [f"{fmt!r} is not json or pdf"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        export = customer_export(customer)
        export_record(customer=customer, actor=request.user, fmt=fmt)
        if fmt == "pdf":
            response = HttpResponse(
                customer_export_pdf(export), content_type="application/pdf"
            )
            response["Content-Disposition"] = (
                f'attachment; filename="customer-{customer.pk}-export.pdf"'
            )
            return response
        return Response(export)
