"""Walk the audit chain and report the first place where it was tampered with.

The walk streams events in sequence order and checks, for each one, that its
number follows the previous one, that its stored hash recomputes, and that its
`prev_hash` is the hash of the event before it. At the first failure, one or
two look-ups decide the kind of break:

- missing:   a sequence number is absent (a gap, a deleted tail, or an event
             whose predecessor no longer exists anywhere);
- changed:   an event's content no longer matches its hash, or the event before
             it was rewritten (its successor links to a hash nobody has);
- inserted:  an event that the chain skips over (its successor links past it),
             or events beyond the chain head;
- reordered: an event links to an event that now comes after it (rows swapped).
"""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from audit.hashing import GENESIS_HASH, event_hash
from audit.models import AuditChainHead, AuditEvent
from audit.services import CHAIN_HEAD_PK, subject_type_label

MISSING = "missing"
CHANGED = "changed"
INSERTED = "inserted"
REORDERED = "reordered"

FIELDS = (
    "sequence",
    "created",
    "actor_kind",
    "actor_label",
    "action",
    "content_type_id",
    "object_id",
    "subject_label",
    "before",
    "after",
    "reason",
    "correlation_id",
    "prev_hash",
    "hash",
)
(
    SEQUENCE,
    CREATED,
    ACTOR_KIND,
    ACTOR_LABEL,
    ACTION,
    CONTENT_TYPE,
    OBJECT_ID,
    SUBJECT_LABEL,
    BEFORE,
    AFTER,
    REASON,
    CORRELATION_ID,
    PREV_HASH,
    HASH,
) = range(len(FIELDS))


@dataclass(frozen=True)
class ChainBreak:
    """Where the chain first breaks, and how."""

    sequence: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"sequence {self.sequence}: {self.kind} ({self.detail})"


@dataclass(frozen=True)
class VerifyResult:
    """The events the walk accepted, the last one's hash, and the first break.

    On a break, `count` and `last_hash` describe the events accepted before the
    walk stopped; the break itself may point one event earlier (a rewritten
    event is only exposed by its successor).
    """

    count: int
    last_hash: str
    chain_break: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.chain_break is None


def chain_verify(
    *, chunk_size: int = 10_000, using: str = DEFAULT_DB_ALIAS
) -> VerifyResult:
    """Verify the whole chain in one consistent snapshot of the database."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
        return _walk(chunk_size=chunk_size, using=using)


def _walk(*, chunk_size: int, using: str) -> VerifyResult:
    subject_types = {
        content_type.pk: subject_type_label(content_type)
        for content_type in ContentType.objects.db_manager(using).all()
    }
    head = (
        AuditChainHead.objects.using(using)
        .filter(pk=CHAIN_HEAD_PK)
        .values_list("last_sequence", "last_hash")
        .first()
    )
    rows = iter(
        AuditEvent.objects.using(using)
        .order_by("sequence")
        .values_list(*FIELDS)
        .iterator(chunk_size=chunk_size)
    )
    expected_sequence, expected_prev = 1, GENESIS_HASH
    for row in rows:
        sequence = row[SEQUENCE]
        if sequence != expected_sequence:
            return _broken(
                expected_sequence,
                expected_sequence,
                expected_prev,
                MISSING,
                f"the chain jumps from {expected_sequence - 1} to {sequence}",
            )
        if head is not None and sequence > head[0]:
            return _broken(
                sequence,
                expected_sequence,
                expected_prev,
                INSERTED,
                f"the chain head ends at {head[0]}; this event was added behind "
                "the audit service's back",
            )
        self_consistent = _row_hash(row, subject_types) == row[HASH]
        linked = row[PREV_HASH] == expected_prev
        if self_consistent and linked:
            expected_sequence, expected_prev = sequence + 1, row[HASH]
            continue
        at, kind, detail = _classify(
            row,
            self_consistent=self_consistent,
            linked=linked,
            expected_prev=expected_prev,
            following=next(rows, None),
            subject_types=subject_types,
            using=using,
        )
        return _broken(at, expected_sequence, expected_prev, kind, detail)
    count = expected_sequence - 1
    if head is not None and head[0] > count:
        return _broken(
            expected_sequence,
            expected_sequence,
            expected_prev,
            MISSING,
            f"the chain ends at {count} but its head says {head[0]}",
        )
    if head is not None and count and head[1] != expected_prev:
        return _broken(
            count,
            expected_sequence,
            expected_prev,
            CHANGED,
            "the last event's hash differs from the one the chain head recorded",
        )
    return VerifyResult(count=count, last_hash=expected_prev, chain_break=None)


def _classify(
    row: tuple,
    *,
    self_consistent: bool,
    linked: bool,
    expected_prev: str,
    following: tuple | None,
    subject_types: dict,
    using: str,
) -> tuple[int, str, str]:
    """Return (sequence, kind, detail) for the first event that fails a check."""
    sequence = row[SEQUENCE]
    skipped = (
        following is not None
        and following[PREV_HASH] == expected_prev
        and following[PREV_HASH] != row[HASH]
    )
    if linked:
        if skipped:
            return sequence, INSERTED, "the next event links past it"
        return sequence, CHANGED, "its content no longer matches its hash"
    origin = (
        AuditEvent.objects.using(using)
        .filter(hash=row[PREV_HASH])
        .values_list("sequence", flat=True)
        .first()
    )
    if origin is not None and origin >= sequence:
        return sequence, REORDERED, f"it links to event {origin}, which comes later"
    if skipped:
        return sequence, INSERTED, "the next event links past it"
    if origin is None:
        if self_consistent:
            return (
                max(sequence - 1, 1),
                CHANGED,
                f"event {sequence} links to a hash no event has: its predecessor "
                "was rewritten",
            )
        if _row_hash(row, subject_types, prev_hash=expected_prev) == row[HASH]:
            return sequence, CHANGED, "its previous-hash field was altered"
        return sequence, MISSING, "it links to an event that no longer exists"
    return (
        origin + 1,
        INSERTED,
        f"event {sequence} links to event {origin}: the events between were inserted",
    )


def _row_hash(row: tuple, subject_types: dict, prev_hash: str | None = None) -> str:
    return event_hash(
        prev_hash=row[PREV_HASH] if prev_hash is None else prev_hash,
        sequence=row[SEQUENCE],
        created=row[CREATED],
        actor_kind=row[ACTOR_KIND],
        actor_label=row[ACTOR_LABEL],
        action=row[ACTION],
        subject_type=subject_types.get(row[CONTENT_TYPE]),
        object_id=row[OBJECT_ID],
        subject_label=row[SUBJECT_LABEL],
        before=row[BEFORE],
        after=row[AFTER],
        reason=row[REASON],
        correlation_id=row[CORRELATION_ID],
    )


def _broken(
    sequence: int, expected_sequence: int, last_hash: str, kind: str, detail: str
) -> VerifyResult:
    """Return a failed result after `expected_sequence - 1` accepted events."""
    return VerifyResult(
        count=expected_sequence - 1,
        last_hash=last_hash,
        chain_break=ChainBreak(sequence=sequence, kind=kind, detail=detail),
    )
