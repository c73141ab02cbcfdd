"""Record audit events: the only write path into the audit chain.

Each call appends inside the caller's transaction, so an action that rolls
back leaves no event. Writers take turns on the single `AuditChainHead` row:
moving the head locks it until the caller commits, so record the event as the
last database step of an action.

On PostgreSQL one event (a view, a single action), or the few events a
deferring block held (one trigger), are two statements: read the head,
then insert the events and move the head in one statement that matches only
while the head is where it was read. Many events, a writer that lost that
race, and SQLite (whose IMMEDIATE transactions already serialise writers)
lock the head with `SELECT ... FOR UPDATE` and append under the lock, the
events streamed by `ccm.bulk.rows_insert`.

An action made of several steps that each record an event (the trigger API
upserts a customer, then opens dispatches) runs them inside
`events_deferred()`: the events are held and appended together when the block
ends, so the head is locked only for the last moments of the transaction, not
from the first event on.
"""

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from audit.context import correlation_id_get
from audit.hashing import GENESIS_HASH, event_hash
from audit.models import AuditChainHead, AuditEvent
from audit.sealing import draft_owner, events_seal
from audit.vocabulary import action_get
from ccm.bulk import rows_insert
from ccm.statements import statement

CHAIN_HEAD_PK = 1
SYSTEM_LABEL = "system"
# Up to this many held events go in the single-statement append (PostgreSQL).
EXTEND_MAX = 20

# The drafts held by the innermost `events_deferred` block, if any.
_deferred: ContextVar[list | None] = ContextVar("audit_deferred", default=None)


@dataclass(frozen=True)
class AuditEntry:
    """One event to record, before it has a place in the chain."""

    action: str
    actor: AbstractBaseUser | None = None
    actor_kind: str | None = None
    actor_label: str = ""
    subject: models.Model | None = None
    before: Any = None
    after: Any = None
    reason: str = ""
    correlation_id: str | None = None


def event_record(
    *,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_kind: str | None = None,
    actor_label: str = "",
    subject: models.Model | None = None,
    before: Any = None,
    after: Any = None,
    reason: str = "",
    correlation_id: str | None = None,
) -> AuditEvent:
    """Append one event to the chain inside the caller's transaction.

    `actor_kind` defaults to user when an actor is given, else system;
    `actor_label` overrides the frozen label (an API client's or a process's
    name); `correlation_id` defaults to the current request's or task's.
    """
    entry = AuditEntry(
        action=action,
        actor=actor,
        actor_kind=actor_kind,
        actor_label=actor_label,
        subject=subject,
        before=before,
        after=after,
        reason=reason,
        correlation_id=correlation_id,
    )
    return events_record_bulk(entries=[entry])[0]


def events_record_bulk(*, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """Append many events under one move of the chain head and one insert.

    Inside `events_deferred()` the events are validated now and appended when
    the block ends; until then they have no sequence.
    """
    if not entries:
        return []
    # Validate and freeze everything before touching the head, to hold it briefly.
    drafts = [_draft(entry) for entry in entries]
    held = _deferred.get()
    if held is not None:
        held.extend(drafts)
        return [draft for draft, _subject_type in drafts]
    # One event takes the single-statement path; more, the lock (one plan
    # whatever their number, as the outbox's batches count on).
    return _append(drafts, extend_max=1)


@contextmanager
def events_deferred() -> Iterator[None]:
    """Hold the events recorded in the block; append them, in order, at its end.

    One move of the chain head for all of them, as the block's last database
    step: the head stays free while the rest of the block runs. Use inside the
    transaction the events belong to (the append is part of it); a block that
    raises appends nothing. Nested blocks append with the outermost.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("events_deferred() must run inside a transaction")
    if _deferred.get() is not None:
        yield
        return
    held: list[tuple[AuditEvent, str | None]] = []
    token = _deferred.set(held)
    try:
        yield
    finally:
        _deferred.reset(token)
    if held:
        _append(held, extend_max=EXTEND_MAX)


def _append(
    drafts: list[tuple[AuditEvent, str | None]], *, extend_max: int
) -> list[AuditEvent]:
    """Number, hash and store the drafts after the chain head; move the head.

    Up to `extend_max` drafts try the single-statement path first (PostgreSQL).
    Personal parts are sealed first (`audit.sealing`), before the head is read.
    """
    events_seal([draft for draft, _subject_type in drafts])
    if len(drafts) <= extend_max and connection.vendor == "postgresql":
        found = statement(
            ("audit.chain_head",),
            lambda: AuditChainHead.objects.filter(pk=CHAIN_HEAD_PK).values(
                "last_sequence", "last_hash"
            )[:1],
        ).rows()
        head = (found[0]["last_sequence"], found[0]["last_hash"]) if found else None
        if head is not None:
            events = _chained(drafts, *head)
            if _chain_extend(events, head=head):
                return events
    with transaction.atomic():
        head = _chain_head_locked()
        events = _chained(drafts, head.last_sequence, head.last_hash)
        rows_insert(events)
        head.last_sequence, head.last_hash = events[-1].sequence, events[-1].hash
        head.save(update_fields=["last_sequence", "last_hash"])
    return events


def _chained(
    drafts: list[tuple[AuditEvent, str | None]], last_sequence: int, last_hash: str
) -> list[AuditEvent]:
    """Number, time and hash the drafts as the events that follow the head."""
    sequence, prev_hash = last_sequence, last_hash
    created = timezone.now()
    events = []
    for draft, subject_type in drafts:
        sequence += 1
        draft.sequence = sequence
        draft.created = created
        draft.prev_hash = prev_hash
        draft.hash = prev_hash = event_hash(
            prev_hash=prev_hash,
            sequence=sequence,
            created=created,
            actor_kind=draft.actor_kind,
            actor_label=draft.actor_label,
            action=draft.action,
            subject_type=subject_type,
            object_id=draft.object_id,
            subject_label=draft.subject_label,
            before=draft.before,
            after=draft.after,
            reason=draft.reason,
            correlation_id=draft.correlation_id,
        )
        events.append(draft)
    return events


def _chain_extend(events: list[AuditEvent], *, head: tuple[int, str]) -> bool:
    """Insert the events and move the head onto the last, if it is still `head`.

    One PostgreSQL statement, atomic without a transaction of its own. A writer
    that moved the head first holds its row lock until it commits; this UPDATE
    waits, re-reads the row (READ COMMITTED), no longer matches, and the INSERT,
    which selects from it, writes nothing. Return whether it matched.
    """
    fields = AuditEvent._meta.concrete_fields
    sql = _chain_extend_sql(len(events))
    last = events[-1]
    params = [last.sequence, last.hash, CHAIN_HEAD_PK, *head]
    for event in events:
        params.extend(
            field.get_db_prep_save(getattr(event, field.attname), connection)
            for field in fields
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != len(events):
            return False
    for event in events:
        event._state.adding = False
        event._state.db = connection.alias
    return True


@cache
def _chain_extend_sql(count: int) -> str:
    """Return `_chain_extend`'s statement for `count` events (PostgreSQL)."""
    fields = AuditEvent._meta.concrete_fields
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    # Typed placeholders: a NULL or a text literal takes its column's type.
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in fields) + ")"
    return f"""
        WITH moved AS (
            UPDATE {AuditChainHead._meta.db_table}
            SET last_sequence = %s, last_hash = %s
            WHERE id = %s AND last_sequence = %s AND last_hash = %s
            RETURNING id
        )
        INSERT INTO {AuditEvent._meta.db_table} ({columns})
        SELECT v.* FROM moved, (VALUES {", ".join([row] * count)}) AS v
    """  # noqa: S608 (table and column names and types from the models)


def subject_type_label(content_type: ContentType | None) -> str | None:
    """Return the stable name of a subject type ("app_label.model") for hashing."""
    if content_type is None:
        return None
    return f"{content_type.app_label}.{content_type.model}"


def _chain_head_locked() -> AuditChainHead:
    """Return the chain head row locked for this transaction, creating it if absent.

    A missing head (a fresh or flushed database) restarts from the last stored
    event, so a lost head row cannot fork the chain.
    """
    head = AuditChainHead.objects.select_for_update().filter(pk=CHAIN_HEAD_PK).first()
    if head is not None:
        return head
    last = (
        AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    )
    last_sequence, last_hash = last or (0, GENESIS_HASH)
    AuditChainHead.objects.get_or_create(
        pk=CHAIN_HEAD_PK,
        defaults={"last_sequence": last_sequence, "last_hash": last_hash},
    )
    return AuditChainHead.objects.select_for_update().get(pk=CHAIN_HEAD_PK)


def _draft(entry: AuditEntry) -> tuple[AuditEvent, str | None]:
    """Return an unsaved event for `entry` and its subject type name."""
    action_get(entry.action)
    actor = entry.actor
    if actor is not None and not actor.is_authenticated:
        actor = None
    actor_kind = entry.actor_kind or (
        AuditEvent.ActorKind.USER if actor is not None else AuditEvent.ActorKind.SYSTEM
    )
    if actor_kind not in AuditEvent.ActorKind.values:
        raise ValueError(f"unknown actor kind {actor_kind!r}")
    actor_label = entry.actor_label or (
        actor.get_username() if actor is not None else SYSTEM_LABEL
    )
    content_type = object_id = None
    subject_label = ""
    if entry.subject is not None:
        if entry.subject.pk is None:
            raise ValueError("an audit subject must be saved before it is audited")
        content_type = ContentType.objects.get_for_model(entry.subject)
        object_id = str(entry.subject.pk)
        subject_label = str(entry.subject)
    correlation_id = (
        entry.correlation_id
        if entry.correlation_id is not None
        else correlation_id_get()
    )
    draft = AuditEvent(
        actor=actor,
        actor_kind=str(actor_kind),
        actor_label=actor_label[:150],
        action=entry.action,
        content_type=content_type,
        object_id=object_id or "",
        subject_label=subject_label[:255],
        before=_json_frozen(entry.before),
        after=_json_frozen(entry.after),
        reason=entry.reason,
        correlation_id=correlation_id[:64],
    )
    draft_owner(draft, entry.subject)
    return draft, subject_type_label(content_type)


def _json_frozen(value: Any) -> Any:
    """Return `value` as the database will give it back, so the hash survives."""
    if value is None:
        return None
    return json.loads(json.dumps(value, cls=DjangoJSONEncoder, allow_nan=False))
