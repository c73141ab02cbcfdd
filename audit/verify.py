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

from audit import rehash
from audit.hashing import GENESIS_HASH
from audit.models import AuditChainHead, AuditEvent
from audit.rehash import HASH, PREV_HASH, SEQUENCE
from audit.services import CHAIN_HEAD_PK, subject_type_label

MISSING = "missing"
CHANGED = "changed"
INSERTED = "inserted"
REORDERED = "reordered"


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
    *, chunk_size: int = 50_000, workers: int = 1, using: str = DEFAULT_DB_ALIAS
) -> VerifyResult:
    """Verify the whole chain in one consistent snapshot of the database.

    With `workers` > 1 the chain is cut into ranges of `chunk_size` events,
    checked side by side (`audit.verify_ranges`) and joined; the walk below
    then names the first break from the first range that did not join.
    """
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                )
        walk = ChainWalk(connection=connection, chunk_size=chunk_size)
        if workers <= 1:
            return walk.resume(since=None, expected_sequence=1, expected_prev=None)
        from audit.verify_ranges import ranges_verify

        proven = ranges_verify(walk, workers=workers, processes=outermost, using=using)
        return walk.resume(
            since=proven.since,
            expected_sequence=proven.expected_sequence,
            expected_prev=proven.expected_prev,
        )


class ChainWalk:
    """What a walk over the chain needs: the database, the head, the hasher."""

    def __init__(self, *, connection, chunk_size: int):
        self.connection = connection
        self.chunk_size = chunk_size
        using = connection.alias
        self.head = (
            AuditChainHead.objects.using(using)
            .filter(pk=CHAIN_HEAD_PK)
            .values_list("last_sequence", "last_hash")
            .first()
        )
        self.hasher = rehash.StoredEventHasher(
            {
                content_type.pk: subject_type_label(content_type)
                for content_type in ContentType.objects.db_manager(using).all()
            }
        )

    def rows(self, *, since: int | None = None, until: int | None = None):
        """Yield raw event rows from `since` (inclusive) to `until` (exclusive)."""
        return rehash.rows_read(
            self.connection, chunk_size=self.chunk_size, since=since, until=until
        )

    def resume(
        self, *, since: int | None, expected_sequence: int, expected_prev: str | None
    ) -> VerifyResult:
        """Walk the events from `since` on, the ones before it already accepted.

        `expected_sequence` and `expected_prev` are where those left the walk
        (1 and None — the genesis hash — from the start).
        """
        head = self.head
        expected_prev = expected_prev or GENESIS_HASH
        rows = iter(self.rows(since=since))
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
            self_consistent = self.hasher(row) == row[HASH]
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
                hasher=self.hasher,
                using=self.connection.alias,
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
    hasher: rehash.StoredEventHasher,
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
        if hasher(row, prev_hash=expected_prev) == row[HASH]:
            return sequence, CHANGED, "its previous-hash field was altered"
        return sequence, MISSING, "it links to an event that no longer exists"
    return (
        origin + 1,
        INSERTED,
        f"event {sequence} links to event {origin}: the events between were inserted",
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
