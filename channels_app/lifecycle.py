"""The one owner of a dispatch's life: no other code sets `Dispatch.status`.

Callers (the trigger path, the outbox claim and its outcomes, the central
rules, delivery receipts, operators' and agents' actions) decide what should
happen; this module checks that it may and records it. Every call, inside the
caller's transaction:

1. refuses the whole call if any move is not in `Dispatch.TRANSITIONS` (or a
   new dispatch does not start queued or suppressed);
2. writes the dispatch rows in bulk: one statement per set of changed fields,
   whatever the number of rows, each row written only while it still has the
   status the move started from (a concurrent change fails the call);
3. writes one status-history row per move, counts it in the hourly and daily
   rollups, opens the escalations the moves call for, and appends the audit
   events, last (the audit chain's lock is held until the transaction
   commits).
"""

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from audit.services import AuditEntry, event_record, events_record_bulk
from ccm.bulk import rows_insert
from ccm.problems import DomainError, Problem
from channels_app import problems
from channels_app.models import (
    Dispatch,
    DispatchRollup,
    DispatchStatusChange,
    Escalation,
)
from channels_app.rollups import rollups_add

Status = Dispatch.Status
# The statuses a dispatch may be created in.
OPENING = frozenset({Status.QUEUED, Status.SUPPRESSED})

# The columns a move may write besides the status, with their PostgreSQL types.
COLUMNS = {
    "status": "text",
    "status_changed": "timestamptz",
    "due_at": "timestamptz",
    "lease_until": "timestamptz",
    "attempt_count": "integer",
    "max_attempts": "integer",
    "decision": "text",
    "rule_decisions": "jsonb",
    "provider_message_id": "text",
    "error": "text",
    "severity": "text",
}


class DispatchStateError(DomainError):
    """A dispatch cannot make the requested move from its current status."""


@dataclass
class Move:
    """One dispatch moving to a status, with what changes along and why.

    `dispatch` holds the status it has now (read under the caller's lock) and
    every field named in `changes`. `at` is when the history row says the
    move happened (default: the call's time, also stamped as
    `status_changed` unless `changes` sets it).
    """

    dispatch: Dispatch
    to: str
    detail: str = ""
    changes: Mapping[str, Any] = field(default_factory=dict)
    event: AuditEntry | None = None
    # (severity, reason): operations must look at this one.
    escalation: tuple[str, str] | None = None
    at: datetime | None = None
    # False: `status_changed` keeps what the row holds (an accepted mark's time).
    stamp: bool = True


def _labels(dispatches: Sequence[Dispatch]) -> dict[int, tuple[str, str, str]]:
    """Return each dispatch's (channel, category, template code) for the rollups.

    Read from the instances where loaded, else in one query for the rest.
    """
    labels, missing = {}, []
    for dispatch in dispatches:
        communication = (
            dispatch.communication
            if Dispatch.communication.is_cached(dispatch)
            else None
        )
        loaded = dispatch.__dict__
        if (
            communication is not None
            and "channel" in loaded
            and {"category", "template_code"} <= communication.__dict__.keys()
        ):
            labels[dispatch.pk] = (
                dispatch.channel,
                communication.category,
                communication.template_code,
            )
        else:
            missing.append(dispatch.pk)
    if missing:
        for pk, *label in Dispatch.objects.filter(id__in=missing).values_list(
            "id", "channel", "communication__category", "communication__template_code"
        ):
            labels[pk] = tuple(label)
    return labels


def _rollup(changes: Sequence[DispatchStatusChange], dispatches, created=()) -> None:
    """Count the status-history rows (and the new dispatches) in the rollups."""
    labels = _labels(dispatches)
    rollups_add(
        [(c.at, *labels[c.dispatch_id], c.status) for c in changes]
        + [(at, *labels[pk], DispatchRollup.CREATED) for pk, at in created]
    )


def _refusal(dispatch: Dispatch, to: str) -> Problem:
    return problems.DISPATCH_MOVE_REFUSED(
        dispatch=dispatch.pk, status=dispatch.status, to=to
    )


def _value(name: str, value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# Up to this many distinct sets of values, one plain UPDATE ... WHERE id IN
# per set; beyond, one statement carrying every row.
UNIFORM_GROUPS = 8


def _key(value: Any) -> Any:
    return (
        json.dumps(value, sort_keys=True) if isinstance(value, list | dict) else value
    )


def _rows_write(
    dispatches: Sequence[Dispatch], fields: Sequence[str], was: Mapping[int, str]
) -> None:
    """Save `fields` of the dispatches, each only if it still has status `was`.

    Rows that take the same values (a claim, a batch of sends) are written by
    one plain UPDATE ... WHERE id IN (...) AND status = ... per set of values:
    the cheapest for PostgreSQL to run. Rows with values of their own (the
    rules' decisions) go in one statement: on PostgreSQL an UPDATE ... FROM
    jsonb_to_recordset (the ORM's bulk_update builds a CASE per row and field,
    slow in Python for thousands); elsewhere bulk_update after a check of the
    statuses.
    """
    uniform: dict[tuple, list[Dispatch]] = defaultdict(list)
    for dispatch in dispatches:
        values = tuple(_key(getattr(dispatch, name)) for name in fields)
        uniform[(was[dispatch.pk], values)].append(dispatch)
        if len(uniform) > UNIFORM_GROUPS:
            break
    else:
        for (status, _values), rows in uniform.items():
            first = rows[0]
            written = Dispatch.objects.filter(
                id__in=[d.pk for d in rows], status=status
            ).update(**{name: getattr(first, name) for name in fields})
            if written != len(rows):
                raise DispatchStateError(
                    problems.DISPATCH_CHANGED_MEANWHILE(
                        changed=len(rows) - written, total=len(rows)
                    )
                )
        return
    if connection.vendor != "postgresql":
        current = dict(
            Dispatch.objects.filter(id__in=[d.pk for d in dispatches]).values_list(
                "id", "status"
            )
        )
        stale = [pk for pk, status in was.items() if current.get(pk) != status]
        if stale:
            raise DispatchStateError(
                problems.DISPATCH_CHANGED_MEANWHILE(changed=len(stale), total=len(was))
            )
        Dispatch.objects.bulk_update(dispatches, fields)
        return
    rows = [
        {
            "id": dispatch.pk,
            "was": was[dispatch.pk],
            **{name: _value(name, getattr(dispatch, name)) for name in fields},
        }
        for dispatch in dispatches
    ]
    table = connection.ops.quote_name(Dispatch._meta.db_table)
    assignments = ", ".join(f"{name} = v.{name}" for name in fields)
    columns = ", ".join(f"{name} {COLUMNS[name]}" for name in fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS d SET {assignments} "  # noqa: S608 (fixed names)
            f"FROM jsonb_to_recordset(%s::jsonb) AS v(id bigint, was text, {columns}) "
            "WHERE d.id = v.id AND d.status = v.was",
            [json.dumps(rows, cls=DjangoJSONEncoder)],
        )
        written = cursor.rowcount
    if written != len(rows):
        raise DispatchStateError(
            problems.DISPATCH_CHANGED_MEANWHILE(
                changed=len(rows) - written, total=len(rows)
            )
        )


def dispatches_move(
    *,
    moves: Sequence[Move],
    events: Iterable[AuditEntry] = (),
    now: datetime | None = None,
) -> None:
    """Move many dispatches at once: checked, written, recorded and audited.

    `events` are further audit events to append with the moves' own (for
    example a rule's decision that changed no status), in one append.
    """
    events = list(events)
    if not moves:
        events_record_bulk(entries=events)
        return
    refused = [
        _refusal(m.dispatch, m.to)
        for m in moves
        if m.to not in Dispatch.TRANSITIONS[m.dispatch.status]
    ]
    if refused:
        raise DispatchStateError(*refused)
    now = now or timezone.now()
    groups: dict[tuple[str, ...], list[Dispatch]] = defaultdict(list)
    was: dict[int, str] = {}
    changes, escalations = [], []
    for move in moves:
        dispatch = move.dispatch
        if dispatch.pk in was:
            raise DispatchStateError(
                problems.DISPATCH_MOVED_TWICE(dispatch=dispatch.pk)
            )
        was[dispatch.pk] = dispatch.status
        dispatch.status = move.to
        if move.stamp:
            dispatch.status_changed = now
        for name, value in move.changes.items():
            if name not in COLUMNS:
                raise ValueError(f"a move cannot write {name!r}")
            setattr(dispatch, name, value)
        stamped = move.stamp or "status_changed" in move.changes
        fields = (
            "status",
            *(["status_changed"] if stamped else []),
            *sorted(set(move.changes) - {"status_changed"}),
        )
        groups[fields].append(dispatch)
        changes.append(
            DispatchStatusChange(
                dispatch_id=dispatch.pk,
                status=move.to,
                at=move.at or dispatch.status_changed,
                detail=move.detail,
            )
        )
        if move.escalation:
            severity, reason = move.escalation
            escalations.append(
                Escalation(dispatch_id=dispatch.pk, severity=severity, reason=reason)
            )
    with transaction.atomic():
        for fields, dispatches in groups.items():
            _rows_write(dispatches, fields, {d.pk: was[d.pk] for d in dispatches})
        rows_insert(changes)
        _rollup(changes, [m.dispatch for m in moves])
        if escalations:
            Escalation.objects.bulk_create(escalations)
        # Last: the audit chain's lock is held until the transaction commits.
        events_record_bulk(entries=[m.event for m in moves if m.event] + events)


def dispatches_annotate(
    *, dispatches: Sequence[Dispatch], fields: Sequence[str]
) -> None:
    """Save fields other than the status of many dispatches (a rule's deferral).

    Each row is written only while it keeps the status it has in memory.
    """
    if not dispatches:
        return
    if {"status", "status_changed"} & set(fields):
        raise ValueError("the status changes only through dispatches_move")
    with transaction.atomic():
        _rows_write(dispatches, fields, {d.pk: d.status for d in dispatches})


def dispatches_open(
    *,
    openings: Sequence[tuple[Dispatch, str]],
    events: Iterable[AuditEntry] | Callable[[], Iterable[AuditEntry]] = (),
    now: datetime | None = None,
) -> list[Dispatch]:
    """Store new dispatches, each queued or suppressed; return them saved.

    Each gets its first status-history row (its `decision` as the detail).
    `events` (whose subjects may be these dispatches) are appended after the
    insert; given as a callable, they are built then, with the keys known.
    """
    refused = sorted({status for _, status in openings if status not in OPENING})
    if refused:
        raise DispatchStateError(
            *(problems.DISPATCH_OPENING_REFUSED(status=status) for status in refused)
        )
    now = now or timezone.now()
    dispatches = []
    for dispatch, status in openings:
        # Copied for the dashboard's filters (no join to the communications).
        dispatch.category = dispatch.communication.category
        dispatch.status = status
        dispatch.status_changed = now
        dispatches.append(dispatch)
    # Inside a trigger's transaction: no savepoint, a failure here fails it.
    with transaction.atomic(savepoint=False):
        rows_insert(dispatches)
        changes = [
            DispatchStatusChange(dispatch=d, status=d.status, at=now, detail=d.decision)
            for d in dispatches
        ]
        rows_insert(changes)
        _rollup(changes, dispatches, created=[(d.pk, now) for d in dispatches])
        events_record_bulk(entries=list(events() if callable(events) else events))
    return dispatches


def dispatch_locked(dispatch: Dispatch | int) -> Dispatch:
    """Return the dispatch's row, locked for the rest of the transaction."""
    pk = dispatch if isinstance(dispatch, int) else dispatch.pk
    return Dispatch.objects.select_for_update(of=("self",)).get(pk=pk)


def dispatch_move(
    *,
    locked: Dispatch,
    to: str,
    action: str,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    reason: str = "",
    detail: str = "",
    changes: Mapping[str, Any] | None = None,
    after: dict | None = None,
    escalation: tuple[str, str] | None = None,
) -> Dispatch:
    """Move one locked dispatch, recorded and audited as `action`."""
    before = locked.status
    event = AuditEntry(
        action=action,
        actor=actor,
        actor_kind="system" if actor is None else None,
        actor_label=actor_label,
        subject=locked,
        before={"status": before},
        after={"status": to, **(after or {})},
        reason=reason,
    )
    dispatches_move(
        moves=[
            Move(
                locked,
                to,
                detail=detail or reason,
                changes=changes or {},
                event=event,
                escalation=escalation,
            )
        ]
    )
    return locked


def escalation_open(*, dispatch: Dispatch, severity: str, reason: str) -> Escalation:
    """Open an escalation on a dispatch for operations to look at."""
    return Escalation.objects.create(
        dispatch=dispatch, severity=severity, reason=reason
    )


@transaction.atomic
def escalation_resolve(
    *, escalation: Escalation, actor: AbstractBaseUser, reason: str
) -> Escalation:
    """Close an escalation with what was done about it."""
    escalation = Escalation.objects.select_for_update().get(pk=escalation.pk)
    if escalation.status == Escalation.Status.RESOLVED:
        raise DispatchStateError(problems.ESCALATION_RESOLVED(escalation=escalation.pk))
    escalation.status = Escalation.Status.RESOLVED
    escalation.resolved = timezone.now()
    escalation.resolved_by = actor
    escalation.save(update_fields=["status", "resolved", "resolved_by"])
    event_record(
        action="channels.escalation.resolved",
        actor=actor,
        subject=escalation,
        after={"severity": escalation.severity},
        reason=reason,
    )
    return escalation
