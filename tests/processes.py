"""Helpers for tests that start other processes against the test database."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from django.db import connection

from tests.smtp import free_port


def child_database_url() -> str:
    """Return a DATABASE_URL pointing child processes at this test's database."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return f"sqlite:///{db['NAME']}"
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    host, port = db.get("HOST") or "127.0.0.1", db.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{db['NAME']}"


ROOT = Path(__file__).resolve().parent.parent


def celery_worker_start(*options: str, name: str, **env: str) -> subprocess.Popen:
    """Start a real Celery worker process (solo pool) on the test's database,
    broker and var directory; `options` are extra worker options such as
    `--queues=sms`, `env` extra environment. Its output is in stdout."""
    from django.conf import settings

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "ccm",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-mingle",
            "--without-gossip",
            f"--hostname={name}-{os.getpid()}@%h",
            *options,
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": child_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "CCM_VAR_DIR": str(settings.VAR_DIR),
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def redis_embedded_start(socket_path: Path, timeout: float = 20) -> subprocess.Popen:
    """Start a throw-away redis-server on a unix socket, as `make run` does.

    The embedded broker of a machine without CELERY_BROKER_URL; nothing is
    persisted, so every test session starts with an empty broker.
    """
    socket_path.unlink(missing_ok=True)
    server = subprocess.Popen(
        [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while not socket_path.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(
                f"redis-server did not open {socket_path}: run `make install`"
            )
        time.sleep(0.02)
    return server


ROOT = Path(__file__).resolve().parents[1]


class Stack:
    """The embedded stack as `make run` starts it: scripts/supervise, own var dir.

    Its broker is its own redis-server on a unix socket under `var_dir`; the
    database is the test's (`child_database_url`).
    """

    def __init__(self, var_dir: Path, **env: str) -> None:
        self.var_dir, self.port = var_dir, free_port()
        self.log = var_dir / "stack.log"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"},
            "DATABASE_URL": child_database_url(),
            "CCM_VAR_DIR": str(var_dir),
            "PORT": str(self.port),
            **env,
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "scripts/supervise"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def processes(self) -> dict:
        """Return scripts/supervise's record of each process ({} before it writes)."""
        try:
            return json.loads((self.var_dir / "supervisor.json").read_text())[
                "processes"
            ]
        except (OSError, ValueError, KeyError):
            return {}

    def get(self, path: str) -> tuple[int, dict]:
        """GET a JSON page of the stack's web; (0, {}) while nothing answers."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:  # noqa: S310 (loopback)
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")
        except (OSError, ValueError):
            return 0, {}

    def post(self, path: str, body: dict, **headers: str) -> tuple[int, dict]:
        request = urllib.request.Request(  # noqa: S310 (loopback)
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", **headers},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def wait_until(condition, *, timeout: float, what: str, detail=lambda: "") -> None:
    """Poll `condition` until it holds; fail naming `what` after `timeout` s."""
    import pytest

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout:.0f} s waiting for {what}\n{detail()}")
        time.sleep(0.2)
