"""The production recipe: queues by kind of work, one beat, PgBouncer, RabbitMQ."""

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ccm.celery import task_route
from ccm.health import lease_take
from ccm.models import Heartbeat
from tests.processes import child_database_url, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _settings_of(code: str, **env: str) -> str:
    """Print a value of the settings a process started with `env` would have."""
    clean = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "ccm.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_each_kind_of_work_has_its_queue():
    assert task_route("channels.outbox_pump", (), {"channel": "sms"}, {}) == {
        "queue": "sms"
    }
    assert task_route("channels.outbox_pump", (), {"channel": "letter"}, {}) == {
        "queue": "letters"
    }
    assert task_route("channels.outbox_pump", (), {}, {}) == {"queue": "email"}
    for housekeeping in (
        "ccm.tasks.heartbeat",
        "channels.outbox_sweep",
        "channels.batches_resume",
        "channels.batch_run",
        "templates.versions_supersede_due",
    ):
        assert task_route(housekeeping, (), {}, {}) == {"queue": "housekeeping"}
    assert [q.name for q in settings.CELERY_TASK_QUEUES] == [
        "email",
        "sms",
        "letters",
        "housekeeping",
    ]


def test_with_rabbitmq_the_queues_are_quorum_queues_with_publisher_confirms():
    printed = _settings_of(
        "from django.conf import settings as s; "
        "print([q.queue_arguments for q in s.CELERY_TASK_QUEUES], "
        "s.CELERY_TASK_DEFAULT_QUEUE_TYPE, s.CELERY_BROKER_TRANSPORT_OPTIONS)",
        CELERY_BROKER_URL="amqp://guest:guest@127.0.0.1:5672//",
    )

    assert printed == (
        "[{'x-queue-type': 'quorum'}, {'x-queue-type': 'quorum'}, "
        "{'x-queue-type': 'quorum'}, {'x-queue-type': 'quorum'}] "
        "quorum {'confirm_publish': True}"
    )


def test_behind_pgbouncer_postgresql_gets_no_server_side_cursors_or_prepares():
    printed = _settings_of(
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['DISABLE_SERVER_SIDE_CURSORS'], d['OPTIONS']['prepare_threshold'])",
        DATABASE_URL="postgres://ccm@pgbouncer.internal:6432/ccm",
        DATABASE_TRANSACTION_POOLING="true",
    )

    assert printed == "True None"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("pooled", [False, True])
def test_behind_pgbouncer_the_outbox_leaves_nothing_in_the_database_session(
    settings, smtp_sink, pooled
):
    """Under transaction pooling the next transaction may run on another
    server connection: a prepared statement or a SET would be lost or leak."""
    from channels_app.outbox import outbox_pump
    from customers.models import Customer
    from tests.factories import approved_version_build, dispatch_build

    settings.DATABASE_TRANSACTION_POOLING = pooled
    version = approved_version_build()
    for n in range(3):
        customer = Customer.objects.create(
            external_id=f"P-{n}", name=f"Customer {n}", email=f"p{n}@example.com"
        )
        dispatch_build(version=version, customer=customer)

    with CaptureQueriesContext(connection) as statements:
        assert outbox_pump() == {"sent": 3}

    executed = [query["sql"] for query in statements]
    session_sets = [sql for sql in executed if sql.startswith(("SET ", "RESET "))]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    if pooled:
        assert prepared == []
        assert session_sets == []
        # The marks went through Django's client-side binding cursor.
        assert sum("SET provider_message_id" in sql for sql in executed) == 3
    else:
        # One prepared mark, run for each of the three messages.
        assert sum("SET provider_message_id" in sql for sql in prepared) == 1
        assert session_sets == [
            "SET synchronous_commit TO off",
            "RESET synchronous_commit",
        ]


@pytest.mark.django_db
def test_a_lease_is_held_by_one_owner_until_it_expires():
    assert lease_take(name="beat", owner="a", seconds=30)
    assert not lease_take(name="beat", owner="b", seconds=30)
    assert lease_take(name="beat", owner="a", seconds=30)

    Heartbeat.objects.filter(name="lease:beat").update(
        last_seen=timezone.now() - timedelta(seconds=31)
    )

    assert lease_take(name="beat", owner="b", seconds=30)
    assert not lease_take(name="beat", owner="a", seconds=30)


def _beat(tmp_path: Path, name: str) -> tuple[subprocess.Popen, Path]:
    log = tmp_path / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "ccm", "beat", "--loglevel=INFO",
             f"--schedule={tmp_path / name}"],
            cwd=ROOT,
            env={
                **os.environ,
                "DATABASE_URL": child_database_url(),
                "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
                "CCM_VAR_DIR": str(settings.VAR_DIR),
                "HEARTBEAT_INTERVAL_SECONDS": "1",
                "BEAT_LEASE_SECONDS": "3",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    return process, log


def _sends(log: Path) -> int:
    return log.read_text(errors="replace").count("Sending due task heartbeat")


@pytest.mark.django_db(transaction=True)
def test_two_beats_send_once_and_the_second_takes_over_when_the_first_dies(tmp_path):
    first, first_log = _beat(tmp_path, "beat-1")
    second, second_log = _beat(tmp_path, "beat-2")
    try:
        wait_until(
            lambda: all(
                "beat: Starting" in log.read_text(errors="replace")
                for log in (first_log, second_log)
            ),
            timeout=240,
            what="both beats to start",
        )
        started = _sends(first_log) + _sends(second_log)
        # Three heartbeats (one a second) while both beats are up.
        wait_until(
            lambda: _sends(first_log) + _sends(second_log) >= started + 3,
            timeout=240,
            what="a beat to send heartbeats",
        )
        holder, holder_log, other_log = (
            (first, first_log, second_log)
            if _sends(first_log)
            else (second, second_log, first_log)
        )
        assert _sends(other_log) == 0, other_log.read_text()
        sent_by_holder = _sends(holder_log)

        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)

        wait_until(
            lambda: _sends(other_log) >= 2,
            timeout=120,
            what="the second beat to take over",
            detail=other_log.read_text,
        )
        assert _sends(holder_log) == sent_by_holder
        assert "holds the lease" in other_log.read_text()
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=30)
