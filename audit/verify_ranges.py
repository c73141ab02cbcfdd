"""Check the audit chain in ranges side by side, then join the ranges.

Each range of `chunk_size` sequence numbers is checked on its own from its
first event's `prev_hash`: numbers follow each other from the range's first,
every hash recomputes, every event links to the one before it, none is past
the chain head. The ranges are then joined in order: a range joins when the
one before it was whole and ended on the hash its first event links to.

Only a range that fails or does not join needs more: the serial walk
(`audit.verify.ChainWalk.resume`) goes on from its start, in the state the
joined ranges before it left, and names the break exactly as a walk from
the first event would.

On PostgreSQL, outside any transaction of the caller, the ranges are checked
by `workers` forked processes, each on its own connection inside the
caller's snapshot (`pg_export_snapshot`, as `pg_dump --jobs` does). Elsewhere
(SQLite, or inside a transaction whose writes other connections cannot see)
they are checked one after another on the caller's connection.
"""

import multiprocessing
import multiprocessing.util
import re
from dataclasses import dataclass
from functools import partial

from django.db import connections

from audit.hashing import GENESIS_HASH
from audit.rehash import HASH, PREV_HASH, SEQUENCE

SNAPSHOT_ID = re.compile(r"^[0-9A-F-]+$")

# In a worker process: the walk (forked from the caller) on a connection of
# the worker's own, and the caller's connection, kept referenced so that its
# socket, shared with the caller, is never closed from here.
_worker: dict = {}


@dataclass(frozen=True)
class Proven:
    """How far the joined ranges carry the walk, and where it must go on.

    `since` is the first sequence number the serial walk must read (None:
    from the start); `expected_sequence` and `expected_prev` are its state.
    """

    since: int | None
    expected_sequence: int
    expected_prev: str | None


@dataclass(frozen=True)
class RangeOutcome:
    """What one range showed: intact or not, its first link, its last event."""

    since: int | None
    intact: bool
    first_prev: str | None
    last_sequence: int
    last_hash: str | None


def ranges_verify(walk, *, workers: int, processes: bool, using: str) -> Proven:
    """Check the chain's ranges and join them; return where the walk goes on."""
    connection = walk.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(sequence) FROM audit_auditevent")
        (last,) = cursor.fetchone()
    if last is None:
        return Proven(since=None, expected_sequence=1, expected_prev=None)
    size = walk.chunk_size
    # The first range has no lower bound and the last no upper one, so that
    # no event, whatever its number, falls between ranges.
    starts = [None, *range(1 + size, last + 1, size)]
    bounds = [
        (since, starts[index + 1] if index + 1 < len(starts) else None)
        for index, since in enumerate(starts)
    ]
    head_sequence = walk.head[0] if walk.head is not None else None
    check = partial(_range_check, head_sequence=head_sequence)
    if processes and connection.vendor == "postgresql" and len(bounds) > 1:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            (snapshot,) = cursor.fetchone()
        context = multiprocessing.get_context("fork")
        pool = context.Pool(
            min(workers, len(bounds)),
            initializer=_worker_start,
            initargs=(walk, using, snapshot),
        )
        try:
            proven = _ranges_join(pool.imap(check, bounds))
        except BaseException:
            pool.terminate()
            raise
        if proven.since == proven.expected_sequence:
            pool.close()  # every range checked: let the workers close their sessions
        else:
            pool.terminate()  # a break: the walk goes on here, the rest is moot
        pool.join()
        return proven
    _worker["walk"] = walk
    try:
        return _ranges_join(map(check, bounds))
    finally:
        _worker.clear()


def _ranges_join(outcomes) -> Proven:
    """Join range outcomes in order; stop at the first that fails or does not join."""
    expected_sequence, expected_prev = 1, GENESIS_HASH
    for outcome in outcomes:
        joined = (
            outcome.intact
            and (outcome.since or 1) == expected_sequence
            and outcome.first_prev == expected_prev
        )
        if not joined:
            return Proven(
                since=outcome.since,
                expected_sequence=expected_sequence,
                expected_prev=expected_prev,
            )
        expected_sequence = outcome.last_sequence + 1
        expected_prev = outcome.last_hash
    return Proven(
        since=expected_sequence,
        expected_sequence=expected_sequence,
        expected_prev=expected_prev,
    )


def _worker_start(walk, using: str, snapshot: str) -> None:
    """Open this worker's connection inside the caller's snapshot."""
    if not SNAPSHOT_ID.match(snapshot):
        raise ValueError(f"not a snapshot id: {snapshot!r}")
    _worker["inherited"] = connections[using]
    connection = connections.create_connection(using)
    connections[using] = connection
    connection.set_autocommit(False)
    multiprocessing.util.Finalize(None, connection.close, exitpriority=10)
    with connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        cursor.execute(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
    walk.connection = connection
    _worker["walk"] = walk


def _range_check(
    bounds: tuple[int | None, int | None], *, head_sequence: int | None
) -> RangeOutcome:
    """Check one range from its first event's `prev_hash`."""
    walk = _worker["walk"]
    since, until = bounds
    hasher = walk.hasher
    expected = since or 1
    first_prev = expected_prev = None
    for row in walk.rows(since=since, until=until):
        if first_prev is None:
            first_prev = expected_prev = row[PREV_HASH]
        sequence = row[SEQUENCE]
        if (
            sequence != expected
            or (head_sequence is not None and sequence > head_sequence)
            or row[PREV_HASH] != expected_prev
            or hasher(row) != row[HASH]
        ):
            return RangeOutcome(since, False, first_prev, expected - 1, expected_prev)
        expected, expected_prev = sequence + 1, row[HASH]
    return RangeOutcome(
        since, first_prev is not None, first_prev, expected - 1, expected_prev
    )
