"""A real Celery worker and beat, started as processes, keep the heartbeat fresh."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from ccm.models import Heartbeat
from tests.processes import celery_worker_start, child_database_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_record_a_heartbeat(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": child_database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CCM_VAR_DIR": str(settings.VAR_DIR),
        "HEARTBEAT_INTERVAL_SECONDS": "1",
    }
    celery = [sys.executable, "-m", "celery", "-A", "ccm"]
    worker = celery_worker_start(name="test", HEARTBEAT_INTERVAL_SECONDS="1")
    beat = subprocess.Popen(
        [*celery, "beat", "--loglevel=WARNING", f"--schedule={tmp_path / 'beat'}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        # Generous: on a loaded 2-core machine worker and beat take a while.
        deadline = time.monotonic() + 240
        while (
            time.monotonic() < deadline
            and not Heartbeat.objects.filter(name="worker").exists()
        ):
            time.sleep(0.5)
        beat_seen = Heartbeat.objects.filter(name="worker").first()
    finally:
        for process in (beat, worker):
            process.terminate()
        output = b"".join(p.communicate(timeout=20)[0] for p in (beat, worker))

    assert beat_seen is not None, output.decode(errors="replace")[-3000:]
