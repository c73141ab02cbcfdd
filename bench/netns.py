"""Node 2 of bench/scale_out.py behind a network interface, as on a machine of its own.

A network namespace, a veth pair (10.231.0.1 on the host, 10.231.0.2 in the
namespace) and socat relays on 10.231.0.1 forwarding to the servers on
loopback (PostgreSQL, Redis, the SMTP sink): the node reaches every server
over the veth. Needs root, `ip` and `socat`; the relays are user-space
processes sharing the machine's cores with everything else.
"""

import contextlib
import os
import subprocess
from pathlib import Path
from urllib.parse import urlparse, urlunparse

from dispatch_bulk import _cpu_seconds

NETNS, HOST_IP, NODE_IP = "ccm-bench-node2", "10.231.0.1", "10.231.0.2"


class Relays:
    """Node 2's network: a namespace, a veth pair, socat relays to loopback."""

    def __init__(self, ports: dict[str, int]) -> None:
        self.processes: list[subprocess.Popen] = []
        self._ip(f"netns add {NETNS}")
        self._ip("link add ccm-bench-h type veth peer name ccm-bench-n")
        self._ip(f"link set ccm-bench-n netns {NETNS}")
        self._ip(f"addr add {HOST_IP}/30 dev ccm-bench-h")
        self._ip("link set ccm-bench-h up")
        self._ip(f"-n {NETNS} addr add {NODE_IP}/30 dev ccm-bench-n")
        self._ip(f"-n {NETNS} link set ccm-bench-n up")
        self._ip(f"-n {NETNS} link set lo up")
        for port in ports.values():
            self.relay(port)

    @staticmethod
    def _ip(arguments: str) -> None:
        subprocess.run(["ip", *arguments.split()], check=True)

    def relay(self, port: int) -> None:
        self.processes.append(
            subprocess.Popen(
                [
                    "socat",
                    f"TCP-LISTEN:{port},bind={HOST_IP},fork,reuseaddr",
                    f"TCP:127.0.0.1:{port}",
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )

    def cpu(self) -> float:
        total = 0.0
        for process in self.processes:
            with contextlib.suppress(OSError):  # it ended meanwhile
                total += _cpu_seconds(process.pid)
                # A relay forks a child per connection: the ended ones count
                # in the parent's reaped-children time.
                stat = Path(f"/proc/{process.pid}/stat").read_text()
                fields = stat.rsplit(")", 1)[1].split()
                total += (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")
        return total

    @staticmethod
    def close() -> None:
        for command in ("link del ccm-bench-h", f"netns del {NETNS}"):
            subprocess.run(["ip", *command.split()], stderr=subprocess.DEVNULL)


def node_env(base: dict, netns: bool, relays: Relays | None, sink_port: int) -> dict:
    if not netns or relays is None:
        return dict(base)
    relays.relay(sink_port)
    env = dict(base)
    for key in ("DATABASE_URL", "CELERY_BROKER_URL"):
        url = urlparse(env[key])
        netloc = url.netloc.replace(url.hostname, HOST_IP)
        env[key] = urlunparse(url._replace(netloc=netloc))
    env["EMAIL_HOST"] = HOST_IP
    env["_NETNS"] = NETNS
    return env
