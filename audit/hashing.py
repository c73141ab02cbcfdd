"""The canonical serialisation of an audit event and its chained SHA-256 hash.

hash = sha256(prev_hash + canonical_json(event)), where canonical_json sorts
keys, uses compact separators, writes timestamps in ISO 8601 UTC with
microseconds and integral floats as integers (PostgreSQL's jsonb returns 1e20
as 100000000000000000000, so the float form would not survive a round trip).
The actor pointer is not hashed: deleting a user sets it to NULL, and the
frozen `actor_label` is what the record vouches for.
"""

import hashlib
import json
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64


def json_canonical(value):
    """Return `value` with integral floats turned into ints, recursively."""
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {key: json_canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_canonical(item) for item in value]
    return value


def timestamp_canonical(moment: datetime) -> str:
    """Return an aware datetime as ISO 8601 UTC with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def event_hash(
    *,
    prev_hash: str,
    sequence: int,
    created: datetime,
    actor_kind: str,
    actor_label: str,
    action: str,
    subject_type: str | None,
    object_id: str,
    subject_label: str,
    before,
    after,
    reason: str,
    correlation_id: str,
) -> str:
    """Return the hex SHA-256 of an event chained onto `prev_hash`."""
    payload = json.dumps(
        {
            "sequence": sequence,
            "created": timestamp_canonical(created),
            "actor_kind": actor_kind,
            "actor_label": actor_label,
            "action": action,
            "subject_type": subject_type,
            "object_id": object_id,
            "subject_label": subject_label,
            "before": json_canonical(before),
            "after": json_canonical(after),
            "reason": reason,
            "correlation_id": correlation_id,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        allow_nan=False,
    )
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()
