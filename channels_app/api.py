"""The trigger API for upstream systems (Django REST Framework).

POST /api/v1/communications and POST /api/v1/batches need an Idempotency-Key
header. The key is recorded (committed) before any work, so a concurrent
duplicate sees it: same key and same body returns the stored response, a
different body 422, and a request still in flight 409. A refused request frees
its key for a retry.

A trigger is one transaction after that claim: the customer, the
communication, its dispatches, the stored response of the key and the audit
events (appended together, last: `audit.services.events_deferred`).
"""

import hashlib
import json
import uuid
from contextlib import nullcontext

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, connection, transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.exceptions import ErrorDetail, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import events_deferred
from ccm.api_errors import REFUSED
from ccm.parsers import BoundedJSONParser
from ccm.problems import Problem, problem_api, problems_api
from ccm.statements import Marker, statement
from channels_app import problems
from channels_app.api_access import CanTrigger
from channels_app.api_serializers import (
    BatchCreateSerializer,
    BatchRowProblemSerializer,
    BatchRowSerializer,
    BatchStatusSerializer,
    CommunicationStatusSerializer,
    CustomerSerializer,
    DispatchStatusSerializer,
    TriggerSerializer,
)
from channels_app.batch_rows import BatchRefused
from channels_app.batches import batch_create, batch_row_problems
from channels_app.dispatching import (
    AUTO,
    TriggerRefused,
    communication_trigger,
    render_failures_note,
)
from channels_app.intake import (
    intake_problems,
    intake_queue,
    intake_status_body,
    respond_async_wanted,
)
from channels_app.models import (
    Batch,
    Communication,
    Dispatch,
    IdempotencyRecord,
    TriggerIntake,
)
from customers.models import Customer
from customers.services import CUSTOMER_FIELDS, customer_upsert


def _refusal(field_name: str, problem: Problem, answer: int) -> Response:
    """Answer a refused request with one problem of one field."""
    return Response(problems_api({field_name: [problem]}), status=answer)


def _django_errors(exc: DjangoValidationError) -> dict:
    """Return a model's validation errors as API errors, keeping their codes."""
    return {
        name: [
            problem_api(
                error.message
                if isinstance(error.message, Problem)
                else ErrorDetail(" ".join(error), code=error.code or "invalid")
            )
            for error in errors
        ]
        for name, errors in exc.update_error_dict({}).items()
    }


def _body_sha256(body) -> str:
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# One instance each, reused (they keep no state between calls): a serializer
# built per request copies or builds all its fields again, most of the CPU
# of checking a trigger or answering a status read.
_TRIGGER = TriggerSerializer()
_COMMUNICATION_STATUS = CommunicationStatusSerializer()
_DISPATCH_STATUS = DispatchStatusSerializer()


def _status_body(communication: Communication, dispatches: list[Dispatch]) -> dict:
    """The status of a communication (template version, customer and batch
    loaded) with its dispatches in id order, as CommunicationStatusSerializer
    defines it."""
    body = {}
    for name, field in _COMMUNICATION_STATUS.fields.items():
        if name == "dispatches":
            body[name] = [_DISPATCH_STATUS.to_representation(d) for d in dispatches]
            continue
        value = field.get_attribute(communication)
        body[name] = None if value is None else field.to_representation(value)
    statuses = {d.status for d in dispatches}
    body["status"] = "suppressed" if statuses == {"suppressed"} else "accepted"
    return body


def _communication_read(public_id: uuid.UUID) -> Communication | None:
    """A communication by public id, its template version, customer and batch
    loaded. This and `_dispatches_read` are statements compiled once per
    process (`ccm.statements`): a status read is polled, and building them
    cost more CPU than the rest of the read."""
    return statement(
        ("api.communication",),
        lambda public_id: Communication.objects.select_related(
            "template_version", "customer", "batch"
        ).filter(public_id=public_id),
        Marker("public_id", uuid.UUID),
        prepare=True,
    ).instance(public_id=public_id)


def _dispatches_read(communication: Communication) -> list[Dispatch]:
    """A communication's dispatches in id order."""
    return statement(
        ("api.communication.dispatches",),
        lambda communication: Dispatch.objects.filter(
            communication_id=communication
        ).order_by("pk"),
        Marker("communication"),
        prepare=True,
    ).instances(communication=communication.pk)


def _own_transaction():
    """A savepoint inside a transaction; nothing (one statement commits) outside."""
    return transaction.atomic() if connection.in_atomic_block else nullcontext()


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="Unique per intended request; retries reuse it.",
)


class IdempotentCreate(APIView):
    """A POST that runs once per client and Idempotency-Key; `_create` does it."""

    permission_classes = [CanTrigger]

    def _create(
        self, request: Request, key: str, record: IdempotencyRecord
    ) -> Response:
        """Do the work; an accepted answer may be stored in the same transaction."""
        raise NotImplementedError

    def _request_identity(self, request: Request):
        """Return what a replay must repeat exactly: the body (and, below, more)."""
        return request.data

    @staticmethod
    def _answer_store(record: IdempotencyRecord, response: Response) -> None:
        record.response_status = response.status_code
        record.response_body = response.data
        record.save(update_fields=["response_status", "response_body"])

    @staticmethod
    def _key(request: Request) -> str | None:
        """Return the request's Idempotency-Key, None if missing or too long."""
        key = request.headers.get("Idempotency-Key", "").strip()
        return key if key and len(key) <= 200 else None

    def _held_replay(self, request: Request, key: str, digest: str):
        """Answer as the key's holder was answered; None if nobody holds it."""
        held = IdempotencyRecord.objects.filter(client=request.user, key=key).first()
        return None if held is None else self._replay(held, key, digest)

    def post(self, request: Request) -> Response:
        if (key := self._key(request)) is None:
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_MISSING(),
                status.HTTP_400_BAD_REQUEST,
            )
        digest = _body_sha256(self._request_identity(request))
        # A request holding the key may be refused and free it between the
        # clash and the look-up: then claim the key again.
        for _attempt in range(3):
            try:
                # Committed at once: in autocommit the INSERT is its own
                # transaction; inside one (a test's), a savepoint isolates it.
                with _own_transaction():
                    record = IdempotencyRecord.objects.create(
                        client=request.user, key=key, request_sha256=digest
                    )
                break
            except IntegrityError:
                if (replayed := self._held_replay(request, key, digest)) is not None:
                    return replayed
        else:
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_IN_FLIGHT(key=key),
                status.HTTP_409_CONFLICT,
            )
        try:
            response = self._create(request, key, record)
        except BaseException:
            record.delete()
            raise
        if response.status_code >= 400:
            record.delete()
            return response
        if record.response_status is None:
            self._answer_store(record, response)
        return response

    def _replay(self, record: IdempotencyRecord, key: str, digest: str) -> Response:
        if record.request_sha256 != digest:
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_REUSED(key=key),
                status.HTTP_422_UNPROCESSABLE_ENTITY,
            )
        if record.response_status is None:
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_IN_FLIGHT(key=key),
                status.HTTP_409_CONFLICT,
            )
        return Response(
            record.response_body,
            status=record.response_status,
            headers={"Idempotent-Replayed": "true"},
        )


PREFER = OpenApiParameter(
    "Prefer",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="`respond-async`: answer 202 once the trigger is checked and "
    'queued (`{"id", "status": "queued"}`); the status read at its id then '
    "shows the communication, or why it was refused (docs/channels.md).",
)


class CommunicationCreate(IdempotentCreate):
    @extend_schema(
        request=TriggerSerializer,
        responses={202: CommunicationStatusSerializer, 400: REFUSED},
        parameters=[IDEMPOTENCY_KEY, PREFER],
        summary="Trigger a communication for a customer",
    )
    def post(self, request: Request) -> Response:
        if respond_async_wanted(request.headers.get("Prefer", "")):
            return self._queue(request)
        return super().post(request)

    def _create(
        self, request: Request, key: str, record: IdempotencyRecord
    ) -> Response:
        payload = _TRIGGER.run_validation(request.data)
        client = request.user.get_username()
        customer_fields = dict(payload["customer"])
        external_id = customer_fields.pop("external_id")
        try:
            with transaction.atomic(), events_deferred():
                if customer_fields:
                    customer, _ = customer_upsert(
                        external_id=external_id,
                        actor=request.user,
                        **customer_fields,
                    )
                else:
                    customer = Customer.objects.filter(external_id=external_id).first()
                    if customer is None:
                        raise TriggerRefused(
                            {"customer": [problems.CUSTOMER_UNKNOWN(id=external_id)]}
                        )
                communication = communication_trigger(
                    template_code=payload["template"],
                    customer=customer,
                    data=payload["data"],
                    channels=payload["channels"],
                    requested_by=request.user,
                    requester_label=client,
                    source_system=payload["data_source"]["system"],
                    source_reference=payload["data_source"]["reference"],
                    idempotency_key=key,
                    scheduled_for=payload.get("schedule"),
                    scope=payload.get("scope", ""),
                    correlation_key=payload["correlation_key"],
                    supersedes=payload["supersedes"],
                    waits_for=payload["waits_for"],
                )
                response = Response(
                    _status_body(communication, communication.dispatches_opened),
                    status=status.HTTP_202_ACCEPTED,
                )
                self._answer_store(record, response)
        except TriggerRefused as exc:
            # Noted again: the rollback took the note the trigger made.
            render_failures_note([exc])
            return Response(
                problems_api(exc.problems), status=status.HTTP_400_BAD_REQUEST
            )
        except DjangoValidationError as exc:
            return Response(
                {"customer": _django_errors(exc)}, status=status.HTTP_400_BAD_REQUEST
            )
        return response

    def _queue(self, request: Request) -> Response:
        """Check what needs no rendering, store the trigger, answer 202."""
        if (key := self._key(request)) is None:
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_MISSING(),
                status.HTTP_400_BAD_REQUEST,
            )
        digest = _body_sha256(request.data)
        try:
            payload = _TRIGGER.run_validation(request.data)
            found = intake_problems(payload)
        except ValidationError as exc:
            payload, found = None, exc.detail
        if found:
            # A replay of an accepted request is answered as it was, even if
            # the request would be refused now (a template retired since).
            if (replayed := self._held_replay(request, key, digest)) is not None:
                return replayed
            if payload is None:
                raise ValidationError(found)
            return Response(problems_api(found), status=status.HTTP_400_BAD_REQUEST)
        answer = intake_queue(
            client=request.user, key=key, digest=digest, payload=payload
        )
        if answer is None:
            if (replayed := self._held_replay(request, key, digest)) is not None:
                return replayed
            return _refusal(
                "Idempotency-Key",
                problems.IDEMPOTENCY_KEY_IN_FLIGHT(key=key),
                status.HTTP_409_CONFLICT,
            )
        return Response(
            answer,
            status=status.HTTP_202_ACCEPTED,
            headers={
                "Preference-Applied": "respond-async",
                "Location": reverse("api-communication", args=[answer["id"]]),
            },
        )


class CommunicationDetail(APIView):
    permission_classes = [CanTrigger]

    @extend_schema(
        responses={200: CommunicationStatusSerializer},
        summary="Read a communication's status",
    )
    def get(self, request: Request, public_id) -> Response:
        communication = _communication_read(public_id)
        owner = communication.requested_by_id if communication else None
        if communication is None:
            # A trigger queued with `Prefer: respond-async`, not triggered yet
            # or refused when it was.
            intake = get_object_or_404(
                TriggerIntake.objects.exclude(status=TriggerIntake.Status.DONE),
                public_id=public_id,
            )
            owner = intake.client_id
        if owner != request.user.pk and not (
            request.user.has_perm("channels_app.view_communication")
        ):
            return Response(status=status.HTTP_404_NOT_FOUND)
        if communication is None:
            return Response(intake_status_body(intake))
        return Response(_status_body(communication, _dispatches_read(communication)))


BATCH_PROBLEMS_SHOWN = 100


def _batch_body(request: Request, batch: Batch, *, problems: bool) -> dict:
    body = BatchStatusSerializer(batch).data
    body["progress"] = request.build_absolute_uri(
        reverse("api-batch", args=[batch.public_id])
    )
    if problems:
        body["problems"] = [
            {**refused, "problems": problems_api(refused["problems"])}
            for refused in batch_row_problems(batch=batch, limit=BATCH_PROBLEMS_SHOWN)
        ]
    return json.loads(json.dumps(body, default=str))


class BatchJSONParser(BoundedJSONParser):
    """A batch body: up to BATCH_MAX_BODY_BYTES (100,000 rows), gzip accepted."""

    limit_setting = "BATCH_MAX_BODY_BYTES"


TOO_LARGE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="The body is over BATCH_MAX_BODY_BYTES (api.body.too_large, "
    "api.body.too_large_unpacked for gzip) or holds more than BATCH_MAX_ROWS "
    "rows (batch.rows.too_many).",
)


class BatchCreate(IdempotentCreate):
    parser_classes = [BatchJSONParser]

    @extend_schema(
        request=inline_serializer(
            "BatchCreateRequest",
            {
                "template": serializers.SlugField(),
                "channels": serializers.JSONField(default=AUTO),
                "source_system": serializers.CharField(),
                "schedule": serializers.DateTimeField(required=False),
                "rows": BatchRowSerializer(many=True),
            },
        ),
        responses={202: BatchStatusSerializer, 400: REFUSED, 413: TOO_LARGE},
        parameters=[IDEMPOTENCY_KEY],
        summary="Start a batch run: one template, many customers",
        description=(
            "Everything is checked before anything is stored: an unknown "
            "template, channels the template does not support, no rows, or a "
            "row whose customer fields or data are wrong answer 400 naming the "
            "field (rows by number, from 1); more rows than BATCH_MAX_ROWS "
            "(100,000) or a body over BATCH_MAX_BODY_BYTES answer 413. The "
            "body may be sent gzip-compressed (Content-Encoding: gzip). "
            "Rows refused while running (unknown customer, no usable contact "
            "point) are listed by GET on the progress URL."
        ),
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def _create(
        self, request: Request, key: str, record: IdempotencyRecord
    ) -> Response:
        rows = request.data.get("rows") if isinstance(request.data, dict) else None
        if isinstance(rows, list) and len(rows) > settings.BATCH_MAX_ROWS:
            return _refusal(
                "rows",
                problems.BATCH_TOO_MANY_ROWS(
                    count=len(rows), limit=settings.BATCH_MAX_ROWS
                ),
                status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        serializer = BatchCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        payload = serializer.validated_data
        try:
            batch = batch_create(
                template_code=payload["template"],
                channels=payload["channels"],
                rows=payload["rows"],
                requested_by=request.user,
                requester_label=request.user.get_username(),
                source_system=payload["source_system"],
                idempotency_key=key,
                scheduled_for=payload.get("schedule"),
            )
        except BatchRefused as exc:
            return Response(
                problems_api(exc.body()), status=status.HTTP_400_BAD_REQUEST
            )
        return Response(
            _batch_body(request, batch, problems=False),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api-batch", args=[batch.public_id])},
        )


class BatchDetail(APIView):
    permission_classes = [CanTrigger]

    @extend_schema(
        responses={
            200: inline_serializer(
                "BatchProgress",
                {
                    **BatchStatusSerializer().get_fields(),
                    "progress": serializers.URLField(),
                    "problems": BatchRowProblemSerializer(many=True),
                },
            )
        },
        summary="Read a batch run's progress and its refused rows",
        description=f"`problems` lists the first {BATCH_PROBLEMS_SHOWN} refused "
        "rows with their problems.",
    )
    def get(self, request: Request, public_id) -> Response:
        batch = get_object_or_404(Batch.objects.all(), public_id=public_id)
        if batch.requested_by_id != request.user.pk and not (
            request.user.has_perm("channels_app.view_batch")
        ):
            return Response(status=status.HTTP_404_NOT_FOUND)
        return Response(_batch_body(request, batch, problems=True))


class CustomerUpsert(APIView):
    permission_classes = [CanTrigger]

    @extend_schema(
        request=CustomerSerializer, responses={200: CustomerSerializer, 400: REFUSED}
    )
    def put(self, request: Request, external_id: str) -> Response:
        if not isinstance(request.data, dict):
            return _refusal(
                "detail", problems.BODY_NOT_OBJECT(), status.HTTP_400_BAD_REQUEST
            )
        serializer = CustomerSerializer(
            data={**request.data, "external_id": external_id}
        )
        serializer.is_valid(raise_exception=True)
        fields = {
            k: v for k, v in serializer.validated_data.items() if k in CUSTOMER_FIELDS
        }
        try:
            customer, created = customer_upsert(
                external_id=external_id, actor=request.user, **fields
            )
        except DjangoValidationError as exc:
            return Response(_django_errors(exc), status=status.HTTP_400_BAD_REQUEST)
        body = {"external_id": customer.external_id}
        body.update({name: getattr(customer, name) for name in CUSTOMER_FIELDS})
        return Response(body, status=201 if created else 200)
