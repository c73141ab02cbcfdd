"""Read stored audit events as plain rows and recompute their hashes fast.

`audit.hashing.event_hash` defines the hash; `StoredEventHasher` gives the
same bytes for a row read straight from the table, without a model instance
or a keyword call per event: the canonical JSON is one format string over the
columns, each string quoted by the `json` module's own C encoder, and the
`before`/`after` JSON read from its stored text by a decoder that writes
integral floats as integers (as `json_canonical` does) and re-encoded with
the encoder `event_hash` uses. `tests/audit/test_rehash.py` holds the two
side by side.
"""

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring

from audit.hashing import timestamp_canonical

# The event columns a walk reads, in this order (`before`/`after` as JSON text,
# `created` as its canonical text).
COLUMNS = (
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
) = range(len(COLUMNS))

# `timestamp_canonical` in SQL: ISO 8601 in UTC with microseconds.
_CREATED_POSTGRESQL = (
    "to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
)
# The keys of `event_hash`'s payload in `sort_keys` order, compact separators.
_PAYLOAD = (
    '{"action":%s,"actor_kind":%s,"actor_label":%s,"after":%s,"before":%s,'
    '"correlation_id":%s,"created":"%s","object_id":%s,"reason":%s,'
    '"sequence":%d,"subject_label":%s,"subject_type":%s}'
)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)
if c_make_encoder is not None:
    # What `_ENCODER.encode` runs for a dict or a list, without its wrapper.
    _encode_c = c_make_encoder(
        None, _ENCODER.default, encode_basestring, None, ":", ",", True, False, False
    )

    def _encode(value) -> str:
        return "".join(_encode_c(value, 0))

else:  # pragma: no cover (CPython has the C encoder)
    _encode = _ENCODER.encode
# Repeated states ({"status": "queued"}) are decoded and encoded once.
_JSON_CACHE_SIZE = 4096


def _float_canonical(text: str) -> float | int:
    value = float(text)
    return int(value) if value.is_integer() else value


_DECODER = json.JSONDecoder(parse_float=_float_canonical)
_scan = _DECODER.scan_once


def _decode(text: str):
    """Return the value of a JSON text as stored (no surrounding blanks)."""
    try:
        value, end = _scan(text, 0)
    except StopIteration:
        end = -1
    if end != len(text):
        value = _DECODER.decode(text)  # blanks around it, or an error to raise
    return value


def rows_sql(vendor: str, *, since: int | None = None, until: int | None = None):
    """Return (sql, params) reading events in order, from `since` to before `until`."""
    created = _CREATED_POSTGRESQL if vendor == "postgresql" else "created"
    columns = ", ".join(created if name == "created" else name for name in COLUMNS)
    bounds, params = [], []
    if since is not None:
        bounds.append("sequence >= %s")
        params.append(since)
    if until is not None:
        bounds.append("sequence < %s")
        params.append(until)
    where = f" WHERE {' AND '.join(bounds)}" if bounds else ""
    return (
        f"SELECT {columns} FROM audit_auditevent{where} ORDER BY sequence",  # noqa: S608 (column names and placeholders)
        params,
    )


def rows_read(
    connection, *, chunk_size: int, since: int | None = None, until: int | None = None
) -> Iterator[tuple]:
    """Yield raw event rows in sequence order through a server-side cursor."""
    sql, params = rows_sql(connection.vendor, since=since, until=until)
    postgresql = connection.vendor == "postgresql"
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            if postgresql:
                yield from rows
            else:
                yield from map(_created_canonical, rows)


def _created_canonical(row: tuple) -> tuple:
    """Return a row of another database with `created` as canonical text."""
    created = row[CREATED]
    if isinstance(created, str):
        created = datetime.fromisoformat(created)
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    return (*row[:CREATED], timestamp_canonical(created), *row[CREATED + 1 :])


class StoredEventHasher:
    """Recompute `event_hash` from a raw row; "" when the row cannot be hashed."""

    def __init__(self, subject_types: dict[int, str]):
        self.subject_types = {
            pk: encode_basestring(label) for pk, label in subject_types.items()
        }
        self.json_cache: dict[str, str] = {}

    def __call__(self, row: tuple, prev_hash: str | None = None) -> str:
        try:
            payload = _PAYLOAD % (
                encode_basestring(row[ACTION]),
                encode_basestring(row[ACTOR_KIND]),
                encode_basestring(row[ACTOR_LABEL]),
                self._json(row[AFTER]),
                self._json(row[BEFORE]),
                encode_basestring(row[CORRELATION_ID]),
                row[CREATED],
                encode_basestring(row[OBJECT_ID]),
                encode_basestring(row[REASON]),
                row[SEQUENCE],
                encode_basestring(row[SUBJECT_LABEL]),
                self.subject_types.get(row[CONTENT_TYPE], "null"),
            )
        except (TypeError, ValueError):
            # A column a tamperer set to what the writer never stores (NULL,
            # a number out of float range): it cannot match its hash.
            return ""
        prev_hash = row[PREV_HASH] if prev_hash is None else prev_hash
        return hashlib.sha256((prev_hash + payload).encode()).hexdigest()

    def _json(self, text: str | None) -> str:
        if text is None:
            return "null"
        canonical = self.json_cache.get(text)
        if canonical is None:
            canonical = _encode(_decode(text))
            if len(self.json_cache) >= _JSON_CACHE_SIZE:
                self.json_cache.clear()
            self.json_cache[text] = canonical
        return canonical
