"""Load the trigger API and the status read under gunicorn; print rate and latency.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python bench/api_load.py --seconds 30 --clients 16

A scratch database (bench_api_load unless --database) is migrated and given
the approved demo templates and an API client; gunicorn (--workers, sync)
serves it on a free loopback port with production settings (DEBUG off). For
--seconds, --clients threads each POST /api/v1/communications over a
keep-alive connection, every request with its own idempotency key and a new
customer, then as long GET /api/v1/communications/<id> for the accepted ones.
Printed: requests, accepted per second, p50/p95/p99 latency, answers by
status. The load generator runs on the same machine and takes CPU from
gunicorn: the figures are a floor.
"""

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scratch import ROOT, scratch_database_setup  # noqa: E402

BODY = {
    "template": "payment-reminder",
    "data": {
        "customer": {"name": "Fatimah Al-Harbi"},
        "policy_number": "MT-204518",
        "amount": 1250.5,
        "currency": "SAR",
        "due_date": "2026-12-15",
    },
    "data_source": {"system": "bench", "reference": "INV-1"},
    "channels": ["email"],
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def seed() -> str:
    """Approve the demo templates and create an API client; return its token."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from ccm.roles import API_CLIENT
    from templates_app.demo import demo_approved_seed

    admin, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True}
    )
    reviewer, _ = get_user_model().objects.get_or_create(
        username="bench-reviewer", defaults={"is_staff": True, "is_superuser": True}
    )
    demo_approved_seed(author=admin, reviewer=reviewer)
    client, _ = get_user_model().objects.get_or_create(username="bench-client")
    client.groups.add(Group.objects.get(name=API_CLIENT))
    return Token.objects.get_or_create(user=client)[0].key


def gunicorn_start(port: int, workers: int, env: dict) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ccm.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
         "--timeout", "30", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz/live")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    sys.exit("gunicorn did not start")


class Load:
    """Threads that send one kind of request until a deadline, keeping figures."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.accepted_ids: list[str] = []

    def run(self, clients: int, seconds: float, request) -> float:
        self.latencies, self.statuses = [], Counter()
        deadline = time.monotonic() + seconds
        threads = [
            threading.Thread(target=self._client, args=(n, deadline, request))
            for n in range(clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - started

    def _client(self, n: int, deadline: float, request) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        i = 0
        while time.monotonic() < deadline:
            method, path, body, headers = request(n, i)
            i += 1
            began = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                status, payload = 0, b""
            elapsed = time.perf_counter() - began
            with self.lock:
                self.latencies.append(elapsed)
                self.statuses[status] += 1
                if status == 202:
                    self.accepted_ids.append(json.loads(payload)["id"])

    def trigger(self, n: int, i: int):
        body = {
            **BODY,
            "customer": {
                "external_id": f"BENCH-{n}-{i}",
                "name": "Fatimah Al-Harbi",
                "email": f"bench{n}.{i}@example.com",
                "language": "en",
            },
        }
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{n}-{i}",
        }
        return "POST", "/api/v1/communications", json.dumps(body), headers

    def status_read(self, n: int, i: int):
        public_id = self.accepted_ids[(n * 7919 + i) % len(self.accepted_ids)]
        headers = {"Authorization": f"Token {self.token}"}
        return "GET", f"/api/v1/communications/{public_id}", None, headers

    def report(self, what: str, seconds: float, ok_status: int) -> None:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

        ok = self.statuses[ok_status]
        errors = sum(n for status, n in self.statuses.items() if status >= 500)
        print(
            f"{what}: {len(ordered)} requests in {seconds:.1f} s, "
            f"{ok / seconds:.0f} {ok_status}/s, p50 {pct(0.5):.1f} ms, "
            f"p95 {pct(0.95):.1f} ms, p99 {pct(0.99):.1f} ms, 5xx {errors}, "
            f"answers {dict(sorted(self.statuses.items()))}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
    parser.add_argument("--database", default="bench_api_load")
    args = parser.parse_args()

    scratch = scratch_database_setup(args.database)
    token = seed()
    from django.db import connections

    connections.close_all()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "k" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "10000000/min",
        "LOG_LEVEL": "WARNING",
    }
    server = gunicorn_start(port, args.workers, env)
    try:
        load = Load(port, token)
        seconds = load.run(args.clients, args.seconds, load.trigger)
        load.report("trigger API", seconds, 202)
        accepted = len(load.accepted_ids)
        keys = len(set(load.accepted_ids))
        print(f"  accepted {accepted}, distinct communications {keys}")
        if accepted:
            seconds = load.run(args.clients, args.seconds, load.status_read)
            load.report("status read", seconds, 200)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
