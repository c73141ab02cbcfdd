"""Triggers accepted for processing: checked and stored now, triggered in bulk.

A client that sends `Prefer: respond-async` (RFC 7240) with a trigger gets
202 as soon as the request has passed every check that needs no rendering
(its shape, the customer fields, the template in force and the data against
its approved schema) and is stored, committed, as a `TriggerIntake`. A worker
then drains the queued ones in chunks (`intake_drain`): customers upserted
together, one `communications_trigger_bulk` call per client, so a trigger
costs a fraction of the round trips of one done alone. What the drain refuses
(consent, a template retired in between, a render failure) is recorded on the
intake and read at the id the client was given; an accepted one becomes the
communication with that same id.

This module alone changes a `TriggerIntake`'s status.
"""

import json
import logging
import time
import uuid
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ccm.bulk import rows_update
from ccm.problems import Problem, problem_api, problem_from
from ccm.statements import prepared_cursor
from channels_app import problems
from channels_app.customer_rows import customers_upsert_rows
from channels_app.dispatching import (
    AUTO,
    TriggerRefused,
    TriggerRequest,
    communications_trigger_bulk,
)
from channels_app.models import IdempotencyRecord, TriggerIntake
from channels_app.template_checks import channels_check, template_in_force
from channels_app.trigger_requests import schema_validator_cached
from customers.models import Customer
from templates_app.validation import validator_problems

logger = logging.getLogger(__name__)

Status = TriggerIntake.Status


def respond_async_wanted(prefer: str) -> bool:
    """Whether a `Prefer` header asks for an asynchronous answer (RFC 7240)."""
    return any(
        part.split(";")[0].strip().lower() == "respond-async"
        for part in prefer.split(",")
    )


def intake_problems(payload: dict) -> dict[str, list[Problem]]:
    """Return what refuses a validated trigger before it is queued, by field.

    The checks of a trigger that need no rendering: the template in force and
    its channels, the data against the approved schema, and a customer named
    by external id alone must exist. The drain checks again what may change.
    """
    template, validator, found = _template_in_force(payload["template"])
    if template is not None:
        found = dict(channels_check(template, payload["channels"]).problems)
        if data_errors := validator_problems(validator, payload["data"]):
            found["data"] = [problems.DATA_INVALID(detail=e) for e in data_errors]
    customer = payload["customer"]
    if set(customer) == {"external_id"} and not (
        Customer.objects.filter(external_id=customer["external_id"]).exists()
    ):
        found["customer"] = [problems.CUSTOMER_UNKNOWN(id=customer["external_id"])]
    return found


# Templates found in force, with their data schema's validator, by code, until
# the monotonic time given: read again after INTAKE_TEMPLATE_REUSE_SECONDS.
# Only a template in force is kept, so one approved a moment ago is never
# refused; one retired within that time is accepted, and then refused by the
# drain, which reads the version in force.
_IN_FORCE: dict[str, tuple[float, object, object]] = {}


def intake_templates_forget(**_signal) -> None:
    """Forget the templates kept in force (a version changed in this process)."""
    _IN_FORCE.clear()


def _template_in_force(code: str):
    """Return the template in force, its data validator and the problems found."""
    now = time.monotonic()
    kept = _IN_FORCE.get(code)
    if kept is not None and kept[0] > now:
        return kept[1], kept[2], {}
    template, found = template_in_force(code)
    if template is None:
        return None, None, found
    validator = schema_validator_cached(
        json.dumps(template.data_schema, ensure_ascii=False)
    )
    if settings.INTAKE_TEMPLATE_REUSE_SECONDS > 0:
        deadline = now + settings.INTAKE_TEMPLATE_REUSE_SECONDS
        _IN_FORCE[code] = (deadline, template, validator)
    return template, validator, found


def intake_queue(
    *, client: AbstractBaseUser, key: str, digest: str, payload: dict
) -> dict | None:
    """Claim the idempotency key and store a checked trigger; return the answer.

    The answer (`{"id", "status": "queued"}`) is stored with the key; None
    when the client already holds the key (the caller replays). The key
    is stored with its answer (202, the id, "queued") and the trigger in one
    transaction: on PostgreSQL one statement, so a request costs one round
    trip here. A concurrent request with the same key waits for this one to
    commit, then finds the key held.
    """
    public_id = uuid.uuid4()
    stored = dict(payload)
    if stored.get("schedule") is not None:
        stored["schedule"] = stored["schedule"].isoformat()
    answer = {"id": str(public_id), "status": Status.QUEUED.value}
    now = timezone.now()
    if connection.vendor == "postgresql":
        # Planned by the server once per connection (ccm.statements).
        with prepared_cursor() as cursor:
            cursor.execute(
                _QUEUE_SQL,
                [client.pk, key, digest, json.dumps(answer), now,
                 public_id, client.pk, key, json.dumps(stored), now],
            )  # fmt: skip
            if cursor.fetchone() is None:
                return None
    else:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    client=client,
                    key=key,
                    request_sha256=digest,
                    response_status=202,
                    response_body=answer,
                )
                TriggerIntake.objects.create(
                    public_id=public_id,
                    client=client,
                    idempotency_key=key,
                    payload=stored,
                    created=now,
                )
        except IntegrityError:
            return None
    transaction.on_commit(intake_kick)
    return answer


_QUEUE_SQL = f"""
WITH claim AS (
    INSERT INTO {IdempotencyRecord._meta.db_table}
        (client_id, key, request_sha256, response_status, response_body, created)
    VALUES (%s, %s, %s, 202, %s::jsonb, %s)
    ON CONFLICT (client_id, key) DO NOTHING
    RETURNING id
)
INSERT INTO {TriggerIntake._meta.db_table}
    (public_id, client_id, idempotency_key, payload, status, problems, created)
SELECT %s, %s, %s, %s::jsonb, 'queued', '{{}}'::jsonb, %s FROM claim
RETURNING id
"""  # noqa: S608 (the models' own tables)


def intakes_erased_refuse(*, external_id: str) -> int:
    """Refuse the queued triggers naming a customer whose data was just erased.

    Run in the erasure's transaction: the drain would otherwise create the
    customer again from the request's copy of their details. Each is refused
    with its copy dropped; returns how many.
    """
    queued = list(
        TriggerIntake.objects.select_for_update()
        .filter(status=Status.QUEUED, payload__customer__external_id=external_id)
        .order_by("id")
    )
    for intake in queued:
        intake.status = Status.REFUSED
        intake.problems = {"customer": [problems.CUSTOMER_ERASED().as_stored()]}
    if queued:
        _outcomes_write(queued, timezone.now())
    return len(queued)


def intake_status_body(intake: TriggerIntake) -> dict:
    """What the status read answers for a trigger that is not a communication."""
    body = {"id": str(intake.public_id), "status": intake.status}
    if intake.status == Status.REFUSED:
        body["problems"] = {
            name: [problem_api(problem_from(item)) for item in found]
            for name, found in intake.problems.items()
        }
    return body


def intake_drain(*, limit: int | None = None) -> int:
    """Trigger one chunk of queued intakes in one transaction; return how many.

    Rows are claimed with SKIP LOCKED, so drains on several workers share the
    queue and none triggers a row twice; a drain that dies rolls back whole
    and its rows are queued again. A database error (a lost connection, a
    deadlock) leaves the chunk queued for the next drain; any other error is
    a row the trigger path cannot take, so the chunk is taken again one row at
    a time and only that row is refused (`intake_drain_one`).
    """
    limit = limit or settings.INTAKE_CHUNK_ROWS
    try:
        return _chunk_trigger(
            TriggerIntake.objects.filter(status=Status.QUEUED).order_by("id")[:limit]
        )
    except DatabaseError:
        raise
    except Exception:
        logger.exception("a chunk of queued triggers failed; taking it row by row")
    ids = list(
        TriggerIntake.objects.filter(status=Status.QUEUED)
        .order_by("id")
        .values_list("id", flat=True)[:limit]
    )
    for pk in ids:
        intake_drain_one(pk)
    return len(ids)


def intake_drain_one(pk: int) -> None:
    """Trigger one queued intake; refuse it if the trigger path fails on it."""
    try:
        _chunk_trigger(TriggerIntake.objects.filter(pk=pk, status=Status.QUEUED))
    except DatabaseError:
        raise
    except Exception:
        logger.exception("queued trigger %s failed; refused", pk)
        with transaction.atomic():
            failed = (
                TriggerIntake.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=Status.QUEUED)
                .first()
            )
            if failed is not None:
                failed.status = Status.REFUSED
                failed.problems = {"request": [problems.TRIGGER_FAILED().as_stored()]}
                _outcomes_write([failed], timezone.now())


def _chunk_trigger(queued) -> int:
    with transaction.atomic():
        intakes = list(
            queued.select_for_update(skip_locked=True, of=("self",)).select_related(
                "client"
            )
        )
        if not intakes:
            return 0
        by_client: dict[int, list[TriggerIntake]] = defaultdict(list)
        for intake in intakes:
            by_client[intake.client_id].append(intake)
        now = timezone.now()
        for group in by_client.values():
            _group_trigger(group)
        _outcomes_write(intakes, now)
    return len(intakes)


def _outcomes_write(intakes: list[TriggerIntake], now: datetime) -> None:
    """Save each intake's status, problems and communication, processed `now`.

    One UPDATE from a JSON recordset on PostgreSQL (`ccm.bulk.rows_update`):
    the ORM's bulk_update builds a CASE per row and field, 40% of a drain's CPU.
    """
    # The request held the customer's details and the data: the communication
    # now holds what was sent, so the copy here goes (retention and erasure
    # reach the communication, not this table).
    for intake in intakes:
        intake.processed = now
        intake.payload = {}
    rows_update(
        intakes, ["status", "problems", "communication", "processed", "payload"]
    )


def intakes_drain(*, seconds: float = 30.0, wait=time.sleep) -> int:
    """Drain chunk after chunk until none is queued or `seconds` have passed.

    After a chunk shorter than INTAKE_CHUNK_ROWS, the drain waits
    INTAKE_GATHER_MS before the next, so triggers arriving one by one
    under load are taken many to a chunk: a chunk costs about as much CPU
    for 25 rows as for 500 (docs/performance.md). A trigger that arrives
    alone is drained at once all the same; the wait only delays the next.
    """
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline:
        done = intake_drain()
        if not done:
            break
        total += done
        if done < settings.INTAKE_CHUNK_ROWS and settings.INTAKE_GATHER_MS:
            wait(settings.INTAKE_GATHER_MS / 1000)
    return total


def _group_trigger(intakes: list[TriggerIntake]) -> None:
    client = intakes[0].client
    customers, refusals = customers_upsert_rows(
        [(intake.pk, intake.payload["customer"]) for intake in intakes],
        actor=client,
    )
    ready = [intake for intake in intakes if intake.pk in customers]
    results = communications_trigger_bulk(
        requests=[_request(intake, customers[intake.pk]) for intake in ready],
        requester_label=client.get_username(),
        requested_by=client,
    )
    outcomes = dict(zip((i.pk for i in ready), results, strict=True))
    for intake in intakes:
        result = outcomes.get(intake.pk)
        if result is None:
            intake.status = Status.REFUSED
            intake.problems = refusals[intake.pk]
        elif isinstance(result, TriggerRefused):
            intake.status = Status.REFUSED
            intake.problems = result.as_stored()
        else:
            intake.status = Status.DONE
            intake.communication = result


def _request(intake: TriggerIntake, customer: Customer) -> TriggerRequest:
    payload = intake.payload
    schedule = payload.get("schedule")
    return TriggerRequest(
        template_code=payload["template"],
        customer=customer,
        data=payload["data"],
        channels=payload.get("channels", AUTO),
        source_system=payload["data_source"]["system"],
        source_reference=payload["data_source"]["reference"],
        idempotency_key=intake.idempotency_key,
        scheduled_for=datetime.fromisoformat(schedule) if schedule else None,
        scope=payload.get("scope", ""),
        correlation_key=payload.get("correlation_key", ""),
        supersedes=payload.get("supersedes", []),
        waits_for=payload.get("waits_for", []),
        public_id=intake.public_id,
    )


# A kick a second per process is enough: one drain takes every
# queued row, and beat drains on its own every INTAKE_DRAIN_INTERVAL_SECONDS.
KICK_INTERVAL_SECONDS = 1.0
_last_kick = [0.0]


def intake_kick() -> None:
    """Ask a worker to drain now; beat's periodic drain covers a lost kick."""
    now = time.monotonic()
    if now - _last_kick[0] < KICK_INTERVAL_SECONDS:
        return
    _last_kick[0] = now
    from channels_app.tasks import intake_drain as drain_task

    try:
        drain_task.apply_async(retry=False)
    except Exception:  # noqa: BLE001 (broker down: the database keeps the work)
        logger.warning("could not reach the broker to drain queued triggers")
