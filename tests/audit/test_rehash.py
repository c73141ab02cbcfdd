"""The fast walk rehashes stored events byte for byte as audit.hashing does."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import connection

from audit import rehash
from audit.hashing import event_hash
from audit.models import AuditEvent
from audit.services import event_record, subject_type_label
from audit.verify import chain_verify

pytestmark = pytest.mark.django_db

AWKWARD_TEXT = "".join(chr(code) for code in range(1, 32)) + '"\\/\x7f\u2028ب😀'
AWKWARD_STATES = [
    {"b": 1, "aa": 2, "ccc": 3, "é": 4, "Z": 5, "": 6},
    {"floats": [1.0, 0.1, 1e20, -0.0, 1e-7, 123456789.125, 2.5e-300]},
    {"big": 2**70, "negative": -(2**40), "flags": [True, False, None]},
    {"nested": {"list": [[], {}, [{"k": AWKWARD_TEXT}]]}, AWKWARD_TEXT: "key"},
    [1, "two", 3.0],
    "a bare string",
    7,
]


def _awkward_chain(author) -> None:
    for state in AWKWARD_STATES:
        event_record(
            action="templates.version.submitted",
            actor=author,
            subject=author,
            before=state,
            after={"status": AWKWARD_TEXT, "state": state},
            reason=AWKWARD_TEXT,
            correlation_id="req-\t1",
        )
    event_record(
        action="channels.dispatch.queued",
        actor_label=AWKWARD_TEXT[:150],
        after={"count": 3.0},
    )


def test_stored_rows_rehash_to_the_hash_the_writer_computed(author):
    _awkward_chain(author)
    subject_types = {
        content_type.pk: subject_type_label(content_type)
        for content_type in ContentType.objects.all()
    }
    hasher = rehash.StoredEventHasher(subject_types)

    rows = list(rehash.rows_read(connection, chunk_size=3))

    assert len(rows) == len(AWKWARD_STATES) + 1
    for row, event in zip(rows, AuditEvent.objects.order_by("sequence"), strict=True):
        assert hasher(row) == event.hash
        assert event.hash == event_hash(
            prev_hash=event.prev_hash,
            sequence=event.sequence,
            created=event.created,
            actor_kind=event.actor_kind,
            actor_label=event.actor_label,
            action=event.action,
            subject_type=subject_types.get(event.content_type_id),
            object_id=event.object_id,
            subject_label=event.subject_label,
            before=event.before,
            after=event.after,
            reason=event.reason,
            correlation_id=event.correlation_id,
        )


@pytest.mark.parametrize(("workers", "chunk_size"), [(1, 2), (2, 1), (3, 2)])
def test_awkward_events_verify_serially_and_in_ranges(author, workers, chunk_size):
    _awkward_chain(author)

    result = chain_verify(workers=workers, chunk_size=chunk_size)

    assert result.ok, result.chain_break
    assert result.count == len(AWKWARD_STATES) + 1


def test_a_state_no_writer_stores_is_reported_as_changed(author):
    from tests.audit.tampering import triggers_lifted

    _awkward_chain(author)
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET after = %s WHERE sequence = 2",
            ['{"cost": 1e400}' if connection.vendor == "postgresql" else "{}"],
        )

    result = chain_verify(workers=2, chunk_size=2)

    assert (result.chain_break.sequence, result.chain_break.kind) == (2, "changed")
