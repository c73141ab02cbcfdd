"""Scale-out benchmark: 10,000 emails sent by one worker node, then by two.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/4 \
        .venv/bin/python bench/scale_out.py --emails 10000 --rounds 2 --kill

Runs in a scratch database (bench_scale_out, or --database) on one
PostgreSQL, with one Redis broker and one aiosmtpd sink on loopback (its own
process, counting messages by their X-CCM-Dispatch header, so a message sent
twice is seen). Each run:

1. triggers N templated emails in bulk (`communications_trigger_bulk`, as
   bench/dispatch_bulk.py does) with no worker running, then drops the kicks
   the triggers left in the broker;
2. starts 1 or 2 worker nodes: the Procfile's `worker-email` command
   (`celery -A ccm worker --queues=email --concurrency=C`) with production
   settings and a distinct `--hostname` (node1@bench, node2@bench). As root,
   each node also runs in a UTS namespace of its own with the host name
   node1 / node2, so the outbox records its attempts under that name (the
   `worker` field of DispatchAttempt is `hostname:pid`), as on two machines;
3. kicks the pumps: it keeps nodes x C `channels.outbox_pump` messages
   waiting in the email queue (sent by name without arguments, as beat does),
   so every pool process always has a pump to run, as a backlog with beat's
   pump every few seconds and the triggers' kicks would;
4. waits until the sink received every message and PostgreSQL holds every
   dispatch as sent, then stops the nodes (SIGTERM, warm shutdown).

Runs alternate 1 node, 2 nodes (--rounds times). Each prints the rate, what
the sink received (all, unique, duplicates), what was lost (triggered minus
unique), each node's share of the sends, the machine's load and the CPU
time per email of the nodes, PostgreSQL and the sink. --concurrency-two
sets the pool of each node in the two-node runs (2 with --concurrency 4:
as many processes on two nodes as on one).

--kill adds a failure run: two nodes, node 2 killed with SIGKILL (its whole
process group: the machine gone) a third of the way in. A housekeeping
worker runs the sweep the bench sends every few seconds (beat's job in
production), with a short DISPATCH_LEASE_SECONDS so the dead node's leased
rows come back soon. Expected: 0 lost, duplicates at most one per killed
pool process (channels_app/outbox.py), each a message in flight when the
node died (the sink keeps the duplicated ids; the bench checks them against
the leases that expired without the accepted mark).

--netns runs node 2 in a network namespace of its own (bench/netns.py): a veth
pair 10.231.0.1 <-> 10.231.0.2, and socat relays on 10.231.0.1 forwarding
to PostgreSQL, Redis and the sink on loopback, so node 2 reaches every
server over a network interface as a second machine would.
"""

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

from cryptography.fernet import Fernet
from dispatch_bulk import (
    Sink,
    _approve_demo_templates,
    _cpu_seconds,
    _customers,
    _machine_busy,
    _tree,
    _trigger,
)
from netns import Relays, node_env
from scratch import ROOT, scratch_database_setup

QUEUE = "email"  # the queue task_route sends an argument-less pump to
REMINDER = {
    "customer": {"name": "Bench"},
    "policy_number": "MT-204518",
    "amount": 1250.5,
    "currency": "SAR",
    "due_date": "2026-12-15",
}
LOGS = ROOT / "var" / "bench-scale"
SWEPT = "sweeper (accepted before the kill)"
KEEP_DUPLICATES = 100


class Node:
    """One `worker-email` process (prefork, C pool processes): one machine."""

    def __init__(self, name: str, env: dict, concurrency: int, *, queues="email"):
        self.name = name
        self.hostname = f"{self.name}@bench"
        command = [
            sys.executable, "-m", "celery", "-A", "ccm", "worker",
            f"--queues={queues}", f"--concurrency={concurrency}",
            f"--hostname={self.hostname}", "--loglevel=INFO",
        ]  # fmt: skip
        self.uts = os.geteuid() == 0 and shutil.which("unshare") is not None
        if self.uts:
            # Its own host name, as on a machine of its own; exec keeps the pid.
            command = [
                "unshare", "--uts", "sh", "-c",
                f'hostname {self.name} && exec "$@"', "sh", *command,
            ]  # fmt: skip
        if env.get("_NETNS"):
            command = ["ip", "netns", "exec", env["_NETNS"], *command]
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log = LOGS / f"{self.name}.log"
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={k: v for k, v in env.items() if not k.startswith("_")},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group: kill the whole "machine"
        )
        self.pids: set[int] = set()
        self.killed = 0
        self.cpu_start = self.cpu_last = 0.0

    def watch(self) -> None:
        """Remember the node's pids (attempts name them) and CPU time so far."""
        try:
            self.pids.update(_tree(self.process.pid))
            self.cpu_last = _cpu_seconds(self.process.pid)
        except OSError:  # a process ended meanwhile
            pass

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL every process of the node at once."""
        self.watch()
        self.killed = len(_tree(self.process.pid))
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _postgres_server_cpu() -> float:
    """Return the CPU time of the whole PostgreSQL server so far, in seconds.

    The workers' connections do not outlive a task (Celery's Django fixup
    closes them after each), so their backends' time is only found in the
    postmaster's reaped-children counters: the figure covers every database
    of the server, other users' included.
    """
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() != "postgres":
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the process ended meanwhile
            continue
        total += int(fields[11]) + int(fields[12])
        parent = Path(f"/proc/{fields[1]}/comm")
        if parent.exists() and parent.read_text().strip() != "postgres":
            total += int(fields[13]) + int(fields[14])  # the postmaster's children
    return total / os.sysconf("SC_CLK_TCK")


class Backends:
    """The CPU time of one database's server processes, sampled as they come.

    A pump's connection lives as long as the pump (Celery closes it after the
    task), so sampling every few tenths of a second misses only the last
    moment of each: our share of the server, apart from other databases.
    """

    def __init__(self, database: str) -> None:
        self.marker = f" {database} "
        self.seen: dict[int, float] = {}

    def sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_text()
                if not title.startswith("postgres: ") or self.marker not in title:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            ticks = int(fields[11]) + int(fields[12])
            self.seen[int(entry.name)] = ticks / os.sysconf("SC_CLK_TCK")

    def total(self) -> float:
        return sum(self.seen.values())


def _nodes_ready(app, nodes: list[Node], timeout: float = 120) -> None:
    deadline = time.time() + timeout
    wanted = {n.hostname for n in nodes}
    while time.time() < deadline:
        answered = set()
        for reply in app.control.ping(destination=sorted(wanted), timeout=1.0):
            answered.update(reply)
        if answered >= wanted:
            return
        for node in nodes:
            if node.process.poll() is not None:
                sys.exit(f"{node.name} exited; see {node.log}")
    sys.exit(f"worker nodes did not start: {sorted(wanted)}; see {LOGS}")


def _run_ids_status(ids: range) -> Counter:
    from channels_app.models import Dispatch

    return Counter(
        Dispatch.objects.filter(id__gte=ids.start, id__lt=ids.stop)
        .values_list("status", flat=True)
        .iterator()
    )


def _shares(ids: range, nodes: list[Node]) -> Counter:
    """Count the sent attempts of this run by node (host name, else pid)."""
    from channels_app.models import DispatchAttempt

    by_pid = {pid: node.name for node in nodes for pid in node.pids}
    shares: Counter = Counter()
    workers = DispatchAttempt.objects.filter(
        dispatch_id__gte=ids.start, dispatch_id__lt=ids.stop, outcome="sent"
    ).values_list("worker", flat=True)
    for worker in workers.iterator():
        if worker.startswith("sweeper"):
            shares[SWEPT] += 1
            continue
        host, _, pid = worker.rpartition(":")
        names = {n.name for n in nodes}
        shares[host if host in names else by_pid.get(int(pid), worker)] += 1
    return shares


class Meter:
    """CPU time of each part of a run, the machine's busy share and its load."""

    def __init__(self, sink: Sink, nodes: list[Node], relays, database: str):
        self.sink, self.nodes, self.relays = sink, nodes, relays
        self.backends = Backends(database)
        self.sample()
        for node in nodes:
            node.cpu_start = node.cpu_last
        self.start = self._parts()
        self.busy = _machine_busy()
        self.load = os.getloadavg()[0]

    def sample(self) -> None:
        """Follow the processes that come and go (nodes' pids, backends)."""
        for node in self.nodes:
            node.watch()
        self.backends.sample()

    def _parts(self) -> dict[str, float]:
        return {
            "sink": _cpu_seconds(self.sink.process.pid),
            "postgres": _postgres_server_cpu(),
            "ours_pg": self.backends.total(),
            "relays": self.relays.cpu() if self.relays else 0.0,
        }

    def machine(self) -> dict:
        """The machine's busy share since the start and its load now."""
        busy, total = _machine_busy()
        return {
            "cpu_busy": (busy - self.busy[0]) / (total - self.busy[1]),
            "load": (self.load, *os.getloadavg()),
        }

    def cpu_ms(self, emails: int) -> dict[str, float]:
        """Return each part's CPU milliseconds per email since the start."""
        self.sample()
        used = {k: v - self.start[k] for k, v in self._parts().items()}
        used["nodes"] = sum(node.cpu_last - node.cpu_start for node in self.nodes)
        return {k: v / emails * 1000 for k, v in used.items()}


def _emails_trigger(n: int, number: int, redis) -> tuple[range, float]:
    """Trigger n emails with no worker running; return their ids and the rate."""
    from channels_app.models import Dispatch

    newest = Dispatch.objects.order_by("-id").values_list("id", flat=True)
    first = (newest.first() or 0) + 1
    customers = _customers(n, f"r{number}")
    trigger_s = _trigger(customers, "payment-reminder", "email", REMINDER, 1000)
    ids = range(first, newest.first() + 1)
    if len(ids) != n:
        sys.exit(f"expected {n} dispatches, found {len(ids)}")
    redis.flushdb()  # the triggers' kicks: the bench kicks by itself
    return ids, n / trigger_s


def _per_node(args, nodes_count: int) -> int:
    """Return the pool processes of each node in a run of `nodes_count` nodes."""
    if nodes_count == 2 and args.concurrency_two:
        return args.concurrency_two
    return args.concurrency


def _sent(ids: range) -> int:
    from channels_app.models import Dispatch

    return Dispatch.objects.filter(
        id__gte=ids.start, id__lt=ids.stop, status="sent"
    ).count()


def _send(args, app, redis, sink, nodes, meter, ids, *, kill: bool) -> dict:
    """Kick the pumps until every email is sent; kill node 2 on the way if asked.

    Returns the seconds from the first kick to the last distinct message at
    the sink and to the last dispatch recorded as sent.
    """
    n, pumps = len(ids), len(nodes) * _per_node(args, len(nodes))
    started = time.time()
    sink_done = db_done = None
    last_sweep = killed_at = last_check = last_kick = 0.0
    while time.time() < started + args.timeout:
        unique = sink.received.value - sink.duplicated.value
        if sink_done is None and unique >= n:
            sink_done = sink.last.value
        if unique >= n or (kill and time.time() - last_check >= 1):
            last_check = time.time()
            if _sent(ids) == n:
                db_done = time.time()
                break
        if time.time() - last_kick >= 1:
            # As beat and the triggers' kicks do, at most once a second: an
            # idle process never waits long, nor spins on empty pumps.
            last_kick = time.time()
            for _ in range(max(0, pumps - redis.llen(QUEUE))):
                app.send_task("channels.outbox_pump")
        if kill and not killed_at and sink.received.value >= n // 3:
            nodes[1].kill()
            killed_at = time.time()
            print(
                f"    node2 killed (SIGKILL, {nodes[1].killed} processes) "
                f"after {sink.received.value:,} received"
            )
        if kill and time.time() - last_sweep >= args.sweep_every:
            app.send_task("channels.outbox_sweep")
            last_sweep = time.time()
        meter.sample()
        time.sleep(0.1)
    if db_done is None:
        print(f"    timed out after {args.timeout} s: {dict(_run_ids_status(ids))}")
    return {
        "sink_s": (sink_done or time.time()) - started,
        "db_s": (db_done or time.time()) - started,
    }


def _tally(ids: range, sink: Sink, nodes: list[Node]) -> dict:
    """What reached the sink against what PostgreSQL holds, for this run's ids."""
    from channels_app.models import DispatchAttempt
    from channels_app.outbox import LEASE_EXPIRED

    expired = set(
        DispatchAttempt.objects.filter(
            dispatch_id__gte=ids.start, dispatch_id__lt=ids.stop, error=LEASE_EXPIRED
        ).values_list("dispatch_id", flat=True)
    )
    received, duplicated = sink.received.value, sink.duplicated.value
    twice = sorted(set(sink.duplicate_ids[:duplicated]))
    status = _run_ids_status(ids)
    return {
        "received": received,
        "unique": received - duplicated,
        "duplicates": duplicated,
        "lost": len(ids) - (received - duplicated),
        "sent_in_db": status.get("sent", 0),
        "other_status": {k: v for k, v in status.items() if k != "sent"},
        "shares": _shares(ids, nodes),
        "requeued": len(expired),
        "twice": twice,
        # A copy is only allowed of a message in flight when its worker died:
        # its lease expired without the accepted mark, and it was sent again.
        "twice_in_flight": [d for d in twice if d in expired],
    }


def run(args, app, label: str, number: int, *, nodes_count: int, kill=False,
        relays: Relays | None = None) -> dict:  # fmt: skip
    """Trigger N emails, send them with `nodes_count` nodes; return the figures."""
    redis = app.connection_for_write().default_channel.client
    sink = Sink(keep_duplicates=KEEP_DUPLICATES)
    base = dict(os.environ, EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(sink.port))
    if kill:
        base["DISPATCH_LEASE_SECONDS"] = str(args.lease)
    redis.flushdb()
    ids, trigger_rate = _emails_trigger(args.emails, number, redis)
    nodes = [
        Node(
            f"node{k + 1}",
            node_env(base, args.netns and k == 1, relays, sink.port),
            _per_node(args, nodes_count),
        )
        for k in range(nodes_count)
    ]
    # The sweep is housekeeping's work (beat sends it in production).
    helpers = [Node("housekeeping", base, 1, queues="housekeeping")] if kill else []
    _nodes_ready(app, nodes + helpers)
    meter = Meter(sink, nodes, relays, args.database)
    times = _send(args, app, redis, sink, nodes, meter, ids, kill=kill)
    machine = meter.machine()
    time.sleep(2)  # late copies would arrive within a moment of the last send
    cpu_ms = meter.cpu_ms(args.emails)
    for node in nodes + helpers:
        node.stop()
    result = {
        "label": label,
        "nodes": nodes_count,
        "trigger_rate": trigger_rate,
        **times,
        **_tally(ids, sink, nodes),
        **machine,
        "cpu_ms": cpu_ms,
        "killed": nodes[1].killed if kill else 0,
        "killed_pool": _per_node(args, 2) if kill else 0,
        "lease": args.lease,
    }
    sink.process.terminate()
    _print(result, args.emails)
    return result


def _print(r: dict, n: int) -> None:
    rate = n / r["sink_s"]
    shares = ", ".join(
        f"{name} {count:,} ({count / max(1, r['sent_in_db']):.0%})"
        for name, count in sorted(r["shares"].items())
    )
    load = r["load"]
    cpu = r["cpu_ms"]
    relays = f", socat relays {cpu['relays']:.2f}" if cpu["relays"] else ""
    other = f", {r['other_status']}" if r["other_status"] else ""
    ours = cpu["nodes"] + cpu["ours_pg"] + cpu["sink"] + cpu["relays"]
    print(
        f"  {r['label']:<28} {rate:6.0f} emails/s  "
        f"(all sent in PostgreSQL after {r['db_s']:.1f} s; "
        f"triggered first at {r['trigger_rate']:.0f}/s)\n"
        f"    received {r['received']:,}, unique {r['unique']:,}, "
        f"duplicates {r['duplicates']}, lost {r['lost']}; sent in PostgreSQL "
        f"{r['sent_in_db']:,}{other}\n"
        f"    per node: {shares}\n"
        f"    machine: {os.cpu_count()} cores, CPU busy {r['cpu_busy']:.0%}, "
        f"load {load[0]:.2f} before, {load[1]:.2f} / {load[2]:.2f} / "
        f"{load[3]:.2f} after (1/5/15 min)\n"
        f"    CPU per email: worker nodes {cpu['nodes']:.2f} ms, PostgreSQL "
        f"{cpu['ours_pg']:.2f} ms (the whole server, other databases included: "
        f"{cpu['postgres']:.2f} ms), sink {cpu['sink']:.2f} ms{relays}; in all "
        f"{ours:.2f} ms: {ours * rate / 1000:.2f} cores' worth at this rate"
    )
    if r["killed"]:
        bound = r["killed_pool"]
        verdict = "within" if r["duplicates"] <= bound else "ABOVE"
        print(
            f"    killed node: {r['killed']} processes ({bound} sending pool "
            f"processes): duplicates {r['duplicates']} {verdict} the bound of "
            f"{bound} (one per killed sending process)\n"
            f"    (the rate above includes the {r['lease']} s lease the dead "
            f"node's rows wait out before the sweep takes them back)\n"
            f"    the dead node's leases: {r['shares'].get(SWEPT, 0):,} accepted "
            f"before the kill, recorded as sent by the sweeper; {r['requeued']:,} "
            f"not accepted, queued again and sent by node1\n"
            f"    sent twice: dispatches {r['twice']}; of these, "
            f"{len(r['twice_in_flight'])} were in flight when node2 died (lease "
            f"expired without the accepted mark, sent again)"
        )
    elif r["twice"]:
        print(f"    sent twice: dispatches {r['twice']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=10_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get("EMAIL_CONCURRENCY", 4)),
        help="pool processes per node (the Procfile's EMAIL_CONCURRENCY, 4)",
    )
    parser.add_argument(
        "--concurrency-two",
        type=int,
        help="pool processes per node in the two-node runs (default: "
        "--concurrency; half of it puts as many processes on two nodes as on one)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="1-node/2-node pairs")
    parser.add_argument("--kill", action="store_true", help="add the failure run")
    parser.add_argument("--lease", type=int, default=30, help="lease s (kill run)")
    parser.add_argument("--sweep-every", type=float, default=5.0)
    parser.add_argument("--netns", action="store_true", help="node 2 in a netns")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--database", default="bench_scale_out")
    args = parser.parse_args()
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        sys.exit("set CELERY_BROKER_URL=redis://127.0.0.1:6379/4 to benchmark")
    if args.netns and (os.geteuid() != 0 or not shutil.which("socat")):
        sys.exit("--netns needs root, ip and socat")
    os.environ.setdefault("CCM_VAR_DIR", str(ROOT / "var" / "bench-scale"))
    os.environ.setdefault("DEBUG", "false")
    os.environ.setdefault("SECRET_KEY", "bench-scale-out-" + "x" * 40)
    os.environ.setdefault("AUDIT_MASTER_KEY", Fernet.generate_key().decode())
    scratch_database_setup(args.database)
    _approve_demo_templates()
    from ccm.celery import app

    relays = None
    if args.netns:
        Relays.close()  # a namespace left by an interrupted run
        ports = {
            key: urlparse(os.environ[key]).port or default
            for key, default in (("DATABASE_URL", 5432), ("CELERY_BROKER_URL", 6379))
        }
        relays = Relays(ports)
    where = " (node 2 in its own network namespace)" if args.netns else ""
    print(
        f"{args.emails:,} emails a run, PostgreSQL + Redis + SMTP sink on loopback"
        f"{where}; each node: celery worker --queues=email "
        f"--concurrency={args.concurrency}"
        + (
            f" ({args.concurrency_two} in the two-node runs)"
            if args.concurrency_two
            else ""
        )
    )
    results = []
    try:
        for round_ in range(args.rounds):
            for count in (1, 2):
                label = f"{count} node{'s' if count > 1 else ''} (round {round_ + 1})"
                results.append(
                    run(
                        args, app, label, len(results), nodes_count=count, relays=relays
                    )
                )
        if args.kill:
            results.append(
                run(
                    args,
                    app,
                    "2 nodes, node2 SIGKILLed",
                    len(results),
                    nodes_count=2,
                    kill=True,
                    relays=relays,
                )
            )
    finally:
        if relays:
            for process in relays.processes:
                process.terminate()
            Relays.close()
    print("summary")
    for count in (1, 2):
        rates = [
            args.emails / r["sink_s"]
            for r in results
            if r["nodes"] == count and not r["killed"]
        ]
        if not rates:
            continue
        print(
            f"  {count} node{'s' if count > 1 else ' '}: "
            + ", ".join(f"{rate:.0f}" for rate in rates)
            + f" emails/s (median {statistics.median(rates):.0f})"
        )
    bad = [
        r["label"]
        for r in results
        if r["lost"] or (r["duplicates"] and not r["killed"])
    ]
    print(f"  lost or duplicated: {', '.join(bad) if bad else 'none'}")


if __name__ == "__main__":
    main()
