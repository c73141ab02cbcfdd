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
status; the CPU each request cost, split between the gunicorn workers, the
PostgreSQL backends serving them and the load generator (from /proc, so
other work on the machine is not counted in it); the SQL statements one
trigger and one status read run (counted in-process, COPY streams apart);
and the machine: cores, load average, and how busy the CPUs were overall.
The load generator runs on the same machine and takes CPU from gunicorn:
the rates are a floor. A few seconds of load (--warmup) before each
measurement start every worker and its database connection.
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

from cryptography.fernet import Fernet

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


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of one process so far (0 if it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(parent: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
                pids.append(int(entry.name))
    return pids


def _machine_busy() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU spent by gunicorn's workers, their PostgreSQL backends and this process.

    Backends come and go (CONN_MAX_AGE): a thread reads theirs twice a second,
    keeping the last figure of each, so one that closed still counts.
    """

    def __init__(
        self,
        server: subprocess.Popen,
        database_url: str,
        worker: subprocess.Popen | None = None,
    ) -> None:
        import psycopg

        self.server, self.worker = server, worker
        self.admin = psycopg.connect(database_url, autocommit=True)
        self.backend_cpu: dict[int, float] = {}
        self.stopped = threading.Event()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while not self.stopped.wait(0.5):
            self._backends_read()

    def _backends_read(self) -> None:
        for pid in self._backends():
            if (seconds := _cpu_seconds(pid)) > 0:
                self.backend_cpu[pid] = seconds

    def _backends(self) -> list[int]:
        return [
            pid
            for (pid,) in self.admin.execute(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]

    def snapshot(self) -> dict:
        self._backends_read()
        times = os.times()
        return {
            "gunicorn": sum(
                _cpu_seconds(pid)
                for pid in [self.server.pid, *_children(self.server.pid)]
            ),
            "postgres": dict(self.backend_cpu),
            "client": times.user + times.system,
            "worker": _cpu_seconds(self.worker.pid) if self.worker else 0.0,
            "machine": _machine_busy(),
            "load": os.getloadavg()[0],
        }

    @staticmethod
    def report(before: dict, after: dict, requests: int) -> None:
        if not requests:
            return
        per = {
            part: (after[part] - before[part]) * 1000 / requests
            for part in ("gunicorn", "client", "worker")
        }
        per["postgres"] = (
            sum(
                seconds - before["postgres"].get(pid, 0.0)
                for pid, seconds in after["postgres"].items()
            )
            * 1000
            / requests
        )
        busy = after["machine"][0] - before["machine"][0]
        total = after["machine"][1] - before["machine"][1]
        drain = f"drain worker {per['worker']:.1f} ms, " if per["worker"] else ""
        print(
            f"  CPU per request: gunicorn {per['gunicorn']:.1f} ms, {drain}PostgreSQL "
            f"{per['postgres']:.1f} ms, load generator {per['client']:.1f} ms "
            f"(total {sum(per.values()):.1f} ms); machine: {os.cpu_count()} "
            f"cores {100 * busy / max(total, 1):.0f}% busy, load average "
            f"{before['load']:.1f} -> {after['load']:.1f}"
        )


def statements_count(token: str) -> None:
    """Print the SQL one trigger and one status read run, in this process."""
    import psycopg
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, override_settings

    copies = []
    copy = psycopg.Cursor.copy

    def counted(cursor, statement, *args, **kwargs):
        copies.append(statement)
        return copy(cursor, statement, *args, **kwargs)

    load = Load(0, token)
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
        client = Client()
        # The second trigger of the process: caches (content types, the
        # schema validator) are warm, as in a worker that has been serving.
        for n in (-2, -1):
            _method, path, body, headers = load.trigger(n, 0)
            if n == -2:
                client.post(
                    path,
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=headers["Authorization"],
                    HTTP_IDEMPOTENCY_KEY=headers["Idempotency-Key"],
                )
        psycopg.Cursor.copy = counted
        try:
            with CaptureQueriesContext(connection) as trigger:
                answer = client.post(
                    path,
                    data=body,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=headers["Authorization"],
                    HTTP_IDEMPOTENCY_KEY=headers["Idempotency-Key"],
                )
        finally:
            psycopg.Cursor.copy = copy
        if answer.status_code != 202:
            sys.exit(f"the trigger was refused: {answer.content!r}")
        with CaptureQueriesContext(connection) as status_read:
            client.get(
                f"{path}/{answer.json()['id']}",
                HTTP_AUTHORIZATION=headers["Authorization"],
            )
        _method, path, body, headers = load.trigger(-5, 0)
        with CaptureQueriesContext(connection) as queued:
            client.post(
                path,
                data=body,
                content_type="application/json",
                HTTP_AUTHORIZATION=headers["Authorization"],
                HTTP_IDEMPOTENCY_KEY=headers["Idempotency-Key"],
                HTTP_PREFER="respond-async",
            )
    print(
        f"SQL per trigger: {len(trigger)} statements (BEGIN and COMMIT included) "
        f"and {len(copies)} COPY streams; per status read: {len(status_read)}; "
        f"per queued trigger (Prefer: respond-async): {len(queued)}"
    )


def _client_post(client, load: "Load", n: int, i: int):
    _method, path, body, headers = load.trigger(n, i)
    prefer = {"HTTP_PREFER": headers["Prefer"]} if "Prefer" in headers else {}
    return client.post(
        path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=headers["Authorization"],
        HTTP_IDEMPOTENCY_KEY=headers["Idempotency-Key"],
        **prefer,
    )


# What a profile line is counted under: the project's own code by function,
# and the layers below it that every statement goes through.
PROFILE_LAYERS = {
    "SQL built by the ORM (compiler.as_sql)": "django/db/models/sql/compiler.py",
    "statements sent and waited for (psycopg execute)": "psycopg/cursor.py",
}


def profile_print(token: str, triggers: int, prefer: str) -> None:
    """Run `triggers` in this process under cProfile (CPU time); print where it goes.

    Cumulative CPU of the project's functions and of two layers beneath them,
    as a share of the whole trigger (cProfile's own overhead inflates the
    milliseconds, not the shares or the call counts).
    """
    import cProfile
    import pstats

    from django.test import Client
    from django.test.utils import override_settings

    load = Load(0, token)
    load.round = -1
    load.prefer = prefer
    with override_settings(ALLOWED_HOSTS=["testserver"], DEBUG=False):
        client = Client()
        for i in range(5):  # warm: caches filled, as in a serving worker
            _client_post(client, load, -3, i)
        profile = cProfile.Profile(time.process_time)
        started = time.process_time()
        profile.enable()
        for i in range(triggers):
            _client_post(client, load, -4, i)
        profile.disable()
        cpu = (time.process_time() - started) * 1000 / triggers
    stats = pstats.Stats(profile).stats
    calls = sum(primitive for primitive, *_ in stats.values())
    total = max(cumulative for *_, cumulative, _callers in stats.values())
    print(
        f"in-process profile of {triggers} triggers: {calls / triggers:,.0f} "
        f"function calls and {cpu:.1f} ms CPU per trigger under cProfile"
    )
    rows = {}
    for (path, line, name), (_p, _n, _t, cumulative, _c) in stats.items():
        for label, marker in PROFILE_LAYERS.items():
            if marker in path and name in ("as_sql", "execute"):
                rows[label] = rows.get(label, 0) + cumulative
        if path.startswith(("~", "<")):
            continue  # built-ins
        relative = Path(path).resolve()
        if ROOT in relative.parents and ".venv" not in relative.parts:
            where = f"{relative.relative_to(ROOT)}:{line}({name})"
            rows[where] = max(rows.get(where, 0), cumulative)
    shown = sorted(rows.items(), key=lambda row: -row[1])[:28]
    for where, cumulative in shown:
        print(f"  {100 * cumulative / total:5.1f}%  {where}")


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


def drain_worker_start(env: dict) -> subprocess.Popen:
    """A Celery worker (solo pool) on the housekeeping queue, which drains the
    queued triggers; the broker's queue is emptied of earlier runs' kicks."""
    import redis

    redis.Redis.from_url(
        env.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/9")
    ).flushdb()
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "ccm", "worker", "--pool=solo",
         "--queues=housekeeping", "--without-mingle", "--without-gossip",
         "--loglevel=WARNING", "--hostname=bench-drain@%h"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip


def queue_drained(admin, *, timeout: float) -> float:
    """Wait until no trigger is queued; return the seconds it took."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        (queued,) = admin.execute(
            "SELECT count(*) FROM channels_app_triggerintake WHERE status = 'queued'"
        ).fetchone()
        if not queued:
            return time.monotonic() - began
        time.sleep(0.1)
    sys.exit(f"{queued} triggers still queued after {timeout:.0f} s")


class Load:
    """Threads that send one kind of request until a deadline, keeping figures."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter = Counter()
        self.accepted_ids: list[str] = []
        self.round = 0
        self.prefer = ""

    def run(self, clients: int, seconds: float, request) -> float:
        self.latencies, self.statuses = [], Counter()
        self.round += 1  # a new idempotency key and customer for every request
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
                "external_id": f"BENCH-{self.round}-{n}-{i}",
                "name": "Fatimah Al-Harbi",
                "email": f"bench{self.round}.{n}.{i}@example.com",
                "language": "en",
            },
        }
        headers = {
            "Authorization": f"Token {self.token}",
            "Content-Type": "application/json",
            "Idempotency-Key": f"bench-{self.round}-{n}-{i}",
        }
        if self.prefer:
            headers["Prefer"] = self.prefer
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
    parser.add_argument(
        "--warmup", type=float, default=3, help="seconds of load before measuring"
    )
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="first profile N triggers in-process and print where the CPU goes",
    )
    parser.add_argument(
        "--respond-async",
        action="store_true",
        help="send `Prefer: respond-async` (queued triggers, drained in bulk by "
        "a Celery worker on the housekeeping queue that the bench starts); the "
        "CPU and the rate are then counted until the queue is drained",
    )
    args = parser.parse_args()

    scratch = scratch_database_setup(args.database)
    token = seed()
    statements_count(token)
    if args.profile:
        profile_print(
            token, args.profile, "respond-async" if args.respond_async else ""
        )
    from django.db import connections

    connections.close_all()
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": scratch,
        "DEBUG": "false",
        "SECRET_KEY": "bench-only-" + "k" * 50,
        # Production settings require the audit key (docs/audit.md).
        "AUDIT_MASTER_KEY": os.environ.get("AUDIT_MASTER_KEY")
        or Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "API_THROTTLE_RATE": "10000000/min",
        "LOG_LEVEL": "WARNING",
    }
    server = gunicorn_start(port, args.workers, env)
    worker = drain_worker_start(env) if args.respond_async else None
    try:
        meter = CpuMeter(server, scratch, worker)
        print(f"gunicorn: {args.workers} sync workers; {args.clients} clients")
        load = Load(port, token)
        load.prefer = "respond-async" if args.respond_async else ""
        load.run(args.clients, args.warmup, load.trigger)
        if worker:
            queue_drained(meter.admin, timeout=600)
        load.accepted_ids = []
        before = meter.snapshot()
        began = time.monotonic()
        seconds = load.run(args.clients, args.seconds, load.trigger)
        if worker:
            print("  (Prefer: respond-async; drained by a Celery worker, solo pool)")
            lag = queue_drained(meter.admin, timeout=600)
            accepted = load.statuses[202]
            all_in = time.monotonic() - began
            print(
                f"  queue drained {lag:.1f} s after the load ended: {accepted} "
                f"triggers in {all_in:.1f} s, {accepted / all_in:.0f}/s all in"
            )
        after = meter.snapshot()
        load.report("trigger API", seconds, 202)
        meter.report(before, after, len(load.latencies))
        accepted = len(load.accepted_ids)
        keys = len(set(load.accepted_ids))
        print(f"  accepted {accepted}, distinct communications {keys}")
        if accepted:
            load.run(args.clients, args.warmup, load.status_read)
            before = meter.snapshot()
            seconds = load.run(args.clients, args.seconds, load.status_read)
            after = meter.snapshot()
            load.report("status read", seconds, 200)
            meter.report(before, after, len(load.latencies))
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        if worker:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
