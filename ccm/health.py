"""Health of the parts the product needs: database, broker, worker, processes.

Three views read it (`ccm.views`): liveness (the process answers, nothing
else is touched), readiness (this web process can serve: the database
answers) and the full report operators watch (every part, and the embedded
stack's restarts as `scripts/supervise` records them).
"""

import json
import os
import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from ccm.models import Heartbeat


def heartbeat_record(*, name: str) -> datetime:
    """Store now as the last time `name` was seen alive."""
    now = timezone.now()
    Heartbeat.objects.update_or_create(
        name=name, defaults={"last_seen": now, "hostname": socket.gethostname()}
    )
    return now


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means the database is down
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "vendor": connection.vendor}


def check_broker(timeout: float = 2.0) -> dict:
    from ccm.celery import app

    transport = (app.conf.broker_url or "").split("://", 1)[0]

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            # A real round trip: opening a channel talks to the server.
            conn.default_channel  # noqa: B018
    except Exception as exc:  # any transport error means the broker is down
        return {
            "ok": False,
            "transport": transport,
            "error": f"{type(exc).__name__}: {exc}",
        }
    return {"ok": True, "transport": transport}


def check_worker() -> dict:
    max_age = timedelta(seconds=settings.HEARTBEAT_MAX_AGE_SECONDS)
    try:
        beat = Heartbeat.objects.filter(name="worker").first()
    except Exception as exc:  # the database check reports the cause
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if beat is None:
        return {"ok": False, "error": "no heartbeat recorded yet"}
    age = timezone.now() - beat.last_seen
    status = {
        "last_heartbeat": beat.last_seen.isoformat(),
        "age_seconds": round(age.total_seconds(), 1),
        "host": beat.hostname,
    }
    if age > max_age:
        return {
            "ok": False,
            "error": f"last heartbeat is older than {max_age.seconds} s",
            **status,
        }
    return {"ok": True, **status}


def supervised_processes() -> dict | None:
    """Return the embedded stack's processes as scripts/supervise records them.

    None when no supervisor runs (production runs processes under its own
    process manager). `restarts` counts every restart since the stack began;
    `last_failure` is the most recent exit of any process.
    """
    try:
        state = json.loads((settings.VAR_DIR / "supervisor.json").read_text())
        os.kill(int(state["supervisor_pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    processes = state.get("processes", {})
    failures = [
        {"process": name, **process["last_failure"]}
        for name, process in processes.items()
        if process.get("last_failure")
    ]
    return {
        "restarts": sum(process.get("restarts", 0) for process in processes.values()),
        "last_failure": max(failures, key=lambda f: f["at"], default=None),
        "processes": processes,
    }


def readiness_report() -> dict:
    """Return whether this web process can serve requests: its database answers."""
    database = check_database()
    failing = [] if database["ok"] else ["database"]
    status = "ok" if database["ok"] else "fail"
    return {"status": status, "failing": failing, "database": database}


def health_report() -> dict:
    """Return the status of every part, and which parts are failing."""
    parts = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_worker(),
    }
    failing = [name for name, part in parts.items() if not part["ok"]]
    report = {"status": "ok" if not failing else "fail", "failing": failing, **parts}
    if (supervised := supervised_processes()) is not None:
        report["supervisor"] = supervised
    return report


def lease_take(*, name: str, owner: str, seconds: int) -> bool:
    """Take or renew the lease `name` for `owner`; False while another holds it.

    A lease is a Heartbeat row: the holder in `hostname`, its last renewal in
    `last_seen`. Taking an expired lease is one conditional UPDATE, so two
    contenders cannot both win; no session state, so it works behind PgBouncer.
    """
    now, row = timezone.now(), f"lease:{name}"
    taken = (
        Heartbeat.objects.filter(name=row)
        .filter(Q(hostname=owner) | Q(last_seen__lt=now - timedelta(seconds=seconds)))
        .update(hostname=owner, last_seen=now)
    )
    if taken:
        return True
    try:
        with transaction.atomic():
            Heartbeat.objects.create(name=row, hostname=owner, last_seen=now)
    except IntegrityError:
        return False
    return True
