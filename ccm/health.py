"""Liveness of the parts the product needs: database, broker, worker."""

import socket
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
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


def health_report() -> dict:
    """Return the status of every part, and which parts are failing."""
    parts = {
        "database": check_database(),
        "broker": check_broker(),
        "worker": check_worker(),
    }
    failing = [name for name, part in parts.items() if not part["ok"]]
    return {"status": "ok" if not failing else "fail", "failing": failing, **parts}
