"""audit_verify: OK on an intact chain; the first break, by kind, after tampering."""

import pytest
from django.core.management import CommandError, call_command

from audit.hashing import event_hash
from audit.models import AuditChainHead, AuditEvent
from audit.verify import chain_verify
from tests.audit.tampering import sequences_shift, triggers_lifted

pytestmark = pytest.mark.django_db


# One walk, then ranges of one, two and three events checked apart and joined:
# every tampering below also falls on a range's first or last event.
WALKS = [(1, 2), (2, 1), (2, 2), (3, 3)]


def verify_failure() -> str:
    """Return the command's error, the same from every walk."""
    messages = set()
    for workers, chunk_size in WALKS:
        with pytest.raises(CommandError) as failure:
            call_command("audit_verify", workers=workers, chunk_size=chunk_size)
        messages.add(str(failure.value))
    assert len(messages) == 1, messages
    return messages.pop()


def forge(cursor, *, sequence: int, prev_hash: str, consistent: bool = True) -> str:
    """Insert a forged event at `sequence`, hashed correctly unless told not to."""
    created = AuditEvent.objects.get(sequence=1).created
    fields = {
        "sequence": sequence,
        "created": created,
        "actor_kind": "user",
        "actor_label": "mallory",
        "action": "templates.version.approved",
        "subject_type": None,
        "object_id": "",
        "subject_label": "",
        "before": None,
        "after": None,
        "reason": "forged",
        "correlation_id": "",
    }
    forged_hash = event_hash(prev_hash=prev_hash, **fields) if consistent else "f" * 64
    cursor.execute(
        "INSERT INTO audit_auditevent (sequence, created, actor_kind, "
        "actor_label, action, object_id, subject_label, reason, correlation_id, "
        "prev_hash, hash) "
        "VALUES (%s, %s, 'user', 'mallory', 'templates.version.approved', "
        "'', '', 'forged', '', %s, %s)",
        [sequence, created, prev_hash, forged_hash],
    )
    return forged_hash


def hashes() -> dict[int, str]:
    return dict(AuditEvent.objects.values_list("sequence", "hash"))


def test_intact_chain_verifies_with_count_and_last_hash(chain, capsys):
    call_command("audit_verify", chunk_size=4)
    assert capsys.readouterr().out.strip() == (
        f"OK: 6 events, last hash {chain[-1].hash}"
    )


def test_empty_chain_verifies(capsys):
    call_command("audit_verify")
    assert "OK: 0 events" in capsys.readouterr().out


def test_break_is_a_command_error_with_exit_status_one(chain):
    with triggers_lifted() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE sequence = 3")
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify")
    assert failure.value.returncode == 1


def test_changed_field_is_reported_as_changed_at_its_sequence(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET reason = 'nothing' WHERE sequence = 2"
        )
    assert "BROKEN at sequence 2: changed" in verify_failure()


def test_changed_state_json_is_reported_as_changed(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET after = %s WHERE sequence = 4",
            ['{"provider_id": "m-1", "cost": 0.01}'],
        )
    assert "BROKEN at sequence 4: changed" in verify_failure()


def test_changed_and_rehashed_event_is_reported_as_changed(chain):
    original = AuditEvent.objects.get(sequence=3)
    with triggers_lifted() as cursor:
        rehashed = event_hash(
            prev_hash=original.prev_hash,
            sequence=3,
            created=original.created,
            actor_kind=original.actor_kind,
            actor_label="someone else",
            action=original.action,
            subject_type=None,
            object_id="",
            subject_label="",
            before=None,
            after=original.after,
            reason="",
            correlation_id=original.correlation_id,
        )
        cursor.execute(
            "UPDATE audit_auditevent SET actor_label = 'someone else', hash = %s "
            "WHERE sequence = 3",
            [rehashed],
        )
    assert "BROKEN at sequence 3: changed" in verify_failure()


def test_changed_previous_hash_is_reported_as_changed(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET prev_hash = %s WHERE sequence = 4", ["b" * 64]
        )
    assert "BROKEN at sequence 4: changed" in verify_failure()


def test_rehashed_last_event_is_caught_by_the_chain_head(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET hash = %s WHERE sequence = 6", ["a" * 64]
        )
    assert "BROKEN at sequence 6: changed" in verify_failure()


def test_deleted_row_is_reported_as_missing_at_its_sequence(chain):
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 3")
    assert "BROKEN at sequence 3: missing" in verify_failure()


def test_deleted_and_renumbered_row_is_reported_as_missing(chain):
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 3")
        sequences_shift(cursor, start=4, by=-1)
    assert "BROKEN at sequence 3: missing" in verify_failure()


def test_deleted_last_row_is_reported_as_missing(chain):
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 6")
    assert "BROKEN at sequence 6: missing" in verify_failure()


def test_forged_row_inserted_in_the_middle_is_reported_as_inserted(chain):
    before = hashes()
    with triggers_lifted() as cursor:
        sequences_shift(cursor, start=3, by=1)
        forge(cursor, sequence=3, prev_hash=before[2])
        cursor.execute("UPDATE audit_auditchainhead SET last_sequence = 7")
    assert "BROKEN at sequence 3: inserted" in verify_failure()


def test_badly_hashed_forged_row_is_reported_as_inserted(chain):
    before = hashes()
    with triggers_lifted() as cursor:
        sequences_shift(cursor, start=4, by=1)
        forge(cursor, sequence=4, prev_hash=before[3], consistent=False)
    assert "BROKEN at sequence 4: inserted" in verify_failure()


def test_forged_row_appended_behind_the_service_is_reported_as_inserted(chain):
    with triggers_lifted() as cursor:
        forge(cursor, sequence=7, prev_hash=hashes()[6])
    assert "BROKEN at sequence 7: inserted" in verify_failure()


def test_two_swapped_rows_are_reported_as_reordered(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = 1000002 WHERE sequence = 2"
        )
        cursor.execute("UPDATE audit_auditevent SET sequence = 2 WHERE sequence = 5")
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = 5 WHERE sequence = 1000002"
        )
    assert "BROKEN at sequence 2: reordered" in verify_failure()


def test_two_adjacent_swapped_rows_are_reported_as_reordered(chain):
    with triggers_lifted() as cursor:
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = 1000004 WHERE sequence = 4"
        )
        cursor.execute("UPDATE audit_auditevent SET sequence = 4 WHERE sequence = 5")
        cursor.execute(
            "UPDATE audit_auditevent SET sequence = 5 WHERE sequence = 1000004"
        )
    assert "BROKEN at sequence 4: reordered" in verify_failure()


@pytest.mark.parametrize(("workers", "chunk_size"), WALKS)
def test_break_reports_the_intact_prefix(chain, workers, chunk_size):
    with triggers_lifted() as cursor:
        cursor.execute("UPDATE audit_auditevent SET reason = 'x' WHERE sequence = 5")
    result = chain_verify(workers=workers, chunk_size=chunk_size)
    assert (result.count, result.last_hash) == (4, chain[3].hash)
    assert (result.chain_break.sequence, result.chain_break.kind) == (5, "changed")


@pytest.mark.parametrize(("workers", "chunk_size"), WALKS)
def test_intact_chain_verifies_in_ranges_too(chain, workers, chunk_size):
    result = chain_verify(workers=workers, chunk_size=chunk_size)
    assert (result.ok, result.count, result.last_hash) == (True, 6, chain[-1].hash)


def test_verify_without_a_chain_head_still_checks_the_events(chain):
    AuditChainHead.objects.all().delete()
    assert chain_verify().ok


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_worker_processes_verify_an_intact_chain(chain, capsys):
    call_command("audit_verify", workers=2, chunk_size=2)
    assert capsys.readouterr().out.strip() == (
        f"OK: 6 events, last hash {chain[-1].hash}"
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("tampering", "expected"),
    [
        # Ranges of two: 1-2, 3-4, 5-6. Event 3 opens the second range.
        ("UPDATE audit_auditevent SET reason = 'x' WHERE sequence = 3", "3: changed"),
        # Event 4 closes it: its successor opens the third range.
        ("DELETE FROM audit_auditevent WHERE sequence = 4", "4: missing"),
        (
            "UPDATE audit_auditevent SET prev_hash = repeat('b', 64) "
            "WHERE sequence = 5",
            "5: changed",
        ),
    ],
)
def test_worker_processes_name_a_break_at_a_range_boundary(chain, tampering, expected):
    with triggers_lifted() as cursor:
        cursor.execute(tampering)
    with pytest.raises(CommandError) as failure:
        call_command("audit_verify", workers=2, chunk_size=2)
    assert f"BROKEN at sequence {expected}" in str(failure.value)
