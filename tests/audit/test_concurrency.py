"""Several processes writing at once leave one valid, gapless chain."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.models import AuditEvent
from audit.verify import chain_verify
from tests.audit.tampering import triggers_lifted
from tests.processes import child_database_url

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
EVENTS_PER_WRITER = 40
BULK_PER_WRITER = 25

WRITER = """
import sys
import django
django.setup()
from audit.services import AuditEntry, event_record, events_record_bulk
writer = sys.argv[1]
for n in range(int(sys.argv[2])):
    event_record(
        action="channels.dispatch.sent", actor_label=writer, after={"n": n}
    )
    if n % 10 == 0:
        events_record_bulk(entries=[
            AuditEntry(action="channels.dispatch.queued", actor_label=writer)
            for _ in range(int(sys.argv[3]) // 4)
        ] + [AuditEntry(action="channels.dispatch.queued", actor_label=writer)])
"""


def _child_env() -> dict[str, str]:
    """Point child processes at the test database this test is using."""
    return {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "DJANGO_SETTINGS_MODULE": "ccm.settings",
    }


def _manage(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_child_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.django_db(transaction=True)
def test_concurrent_writer_processes_leave_a_valid_chain():
    writers = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                f"writer-{n}",
                str(EVENTS_PER_WRITER),
                str(BULK_PER_WRITER),
            ],
            cwd=ROOT,
            env=_child_env(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=180)
        assert writer.returncode == 0, errors

    per_writer = EVENTS_PER_WRITER + (EVENTS_PER_WRITER // 10) * (
        BULK_PER_WRITER // 4 + 1
    )
    result = chain_verify()
    assert result.ok, result.chain_break
    assert result.count == WRITERS * per_writer
    assert list(AuditEvent.objects.values_list("sequence", flat=True)) == list(
        range(1, WRITERS * per_writer + 1)
    )
    for n in range(WRITERS):
        assert AuditEvent.objects.filter(actor_label=f"writer-{n}").count() == (
            per_writer
        )

    verified = _manage("audit_verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.startswith(f"OK: {WRITERS * per_writer} events")


@pytest.mark.django_db(transaction=True)
def test_manage_py_audit_verify_exits_non_zero_on_a_break(chain):
    with triggers_lifted() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE sequence = 2")

    verified = _manage("audit_verify")

    assert verified.returncode == 1
    assert "BROKEN at sequence 2: missing" in verified.stderr
