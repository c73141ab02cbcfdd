"""Send hostile previews to a real server and time a normal request meanwhile.

    .venv/bin/python bench/hostile_preview.py --seconds 20 --hostile 2

A scratch SQLite database under a temporary CCM_VAR_DIR is migrated and given
the demo templates and a superuser author; gunicorn serves it on a free
loopback port with production settings (DEBUG off) in ONE worker process with
threads, so every figure below is that one web process answering. First the
normal request (the preview of a demo draft's stored content, rendered in a
render worker) is timed alone; then --hostile threads send, back to back,
previews of resource-exhaustion templates (nested lists compared, string
multiplication, comparisons in loops, recursion, huge loops, a 10,000-page
letter) while the normal request is timed again, and the liveness probe with
it. Printed: each latency's p50/p95/max alone and under attack, how each
hostile payload was answered (status, time, the error shown), the peak
resident memory of the web process, and the machine: cores and load average.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HOSTILE = {
    "nested lists compared": (
        "email",
        "html",
        "{% set a=[[1]*100000]*100000 %}{% set b=[[1]*100000]*100000 %}{{ a == b }}",
    ),
    "string multiplication": ("email", "html", '{{ ["x"*400000]*400000 }}'),
    "comparisons in a loop": (
        "email",
        "html",
        "{% set a=[1]*50000 %}{% set b=[1]*50000 %}"
        "{% for i in range(10000) %}{{ a == b }}{% endfor %}",
    ),
    "recursion": (
        "email",
        "html",
        "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    ),
    "huge loop": ("email", "html", "{% for i in range(10**9) %}x{% endfor %}"),
    "nested loops": (
        "email",
        "html",
        "{% for a in range(10000) %}{% for b in range(10000) %}"
        "{% endfor %}{% endfor %}",
    ),
    "10,000-page letter": (
        "letter",
        "letter_html",
        "{% for i in range(10000) %}<p style='break-after:page'>{{ i }}</p>"
        "{% endfor %}",
    ),
}


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def setup(var_dir: str) -> dict:
    """Migrate the scratch database, seed the demo; return ids and a session."""
    os.environ["CCM_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client

    from templates_app.demo import demo_seed
    from templates_app.models import Template

    call_command("migrate", verbosity=0)
    author, _ = get_user_model().objects.get_or_create(
        username="bench-author",
        defaults={"is_staff": True, "is_superuser": True, "email": "b@example.com"},
    )
    demo_seed(author=author)
    client = Client()
    client.force_login(author)
    from django.conf import settings

    versions = {
        code: Template.objects.get(code=code).versions.order_by("number").first()
        for code in ("payment-reminder", "policy-renewal-letter")
    }
    return {
        "session": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "session_cookie": settings.SESSION_COOKIE_NAME,
        "csrf_cookie": settings.CSRF_COOKIE_NAME,
        "versions": {
            code: (
                version.pk,
                [
                    (c.channel, c.language, {f: getattr(c, f) for f in FIELDS})
                    for c in version.contents.all()
                ],
            )
            for code, version in versions.items()
        },
    }


FIELDS = ("subject", "html", "text", "sms_text", "letter_html", "letter_css")


def form(contents, channel: str, field: str, source: str) -> dict:
    data = {"contents-TOTAL_FORMS": str(len(contents))}
    for index, (chan, language, fields) in enumerate(contents):
        data[f"contents-{index}-channel"] = chan
        data[f"contents-{index}-language"] = language
        for name, value in fields.items():
            data[f"contents-{index}-{name}"] = value
        if chan == channel and language == "en":
            data[f"contents-{index}-{field}"] = source
    return data


def session_for(seed: dict) -> requests.Session:
    session = requests.Session()
    session.cookies.set(seed["session_cookie"], seed["session"])
    token = "b" * 32
    session.cookies.set(seed["csrf_cookie"], token)
    session.headers["X-CSRFToken"] = token
    return session


def gunicorn_start(port: int, env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "ccm.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "8",
         "--timeout", "120", "--no-control-socket", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz/live", timeout=5).ok:
                return server
        except requests.RequestException:
            time.sleep(0.3)
    server.kill()
    sys.exit("gunicorn did not start")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "no answers"
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (
        f"n={len(ordered)} p50 {1000 * statistics.median(ordered):.0f} ms, "
        f"p95 {1000 * p95:.0f} ms, max {1000 * ordered[-1]:.0f} ms"
    )


def timed(call) -> tuple[float, object]:
    started = time.perf_counter()
    answer = call()
    return time.perf_counter() - started, answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--hostile", type=int, default=2, help="attacking threads")
    parser.add_argument("--baseline", type=int, default=10, help="requests alone")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="hostile-preview-")
    # The seeding here and the server share the settings (the session's key).
    os.environ.update(
        {
            "CCM_VAR_DIR": var_dir,
            "DEBUG": "false",
            "SECRET_KEY": "bench-only-" + "k" * 50,
            "AUDIT_MASTER_KEY": os.environ.get("AUDIT_MASTER_KEY")
            or Fernet.generate_key().decode(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
        }
    )
    seed = setup(var_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = gunicorn_start(port, dict(os.environ))
    worker_pid = None
    try:
        reminder_pk, reminder = seed["versions"]["payment-reminder"]
        letter_pk, letter = seed["versions"]["policy-renewal-letter"]
        preview = base + "/admin/templates_app/templateversion/{}/preview/"
        normal = session_for(seed)

        def normal_preview():
            answer = normal.get(preview.format(reminder_pk), timeout=120)
            if not (answer.ok and all(p["ok"] for p in answer.json()["panes"])):
                raise RuntimeError(f"normal preview failed: {answer.text[:300]}")

        def liveness():
            if not requests.get(base + "/healthz/live", timeout=120).ok:
                raise RuntimeError("liveness probe failed")

        normal_preview()  # starts the render workers' fork server
        alone = [timed(normal_preview)[0] for _ in range(args.baseline)]
        alone_live = [timed(liveness)[0] for _ in range(args.baseline)]
        print(f"cores {os.cpu_count()}; load before {os.getloadavg()}")
        print(f"normal preview alone:        {summary(alone)}")
        print(f"liveness probe alone:        {summary(alone_live)}")

        answers: dict[str, list] = {name: [] for name in HOSTILE}
        stop = time.monotonic() + args.seconds

        def attack(offset: int) -> None:
            attacker = session_for(seed)
            names = list(HOSTILE)
            i = offset
            while time.monotonic() < stop:
                name = names[i % len(names)]
                channel, field, source = HOSTILE[name]
                pk, contents = (
                    (letter_pk, letter)
                    if channel == "letter"
                    else (reminder_pk, reminder)
                )
                data = form(contents, channel, field, source)
                url = preview.format(pk)
                seconds, answer = timed(
                    lambda url=url, data=data: attacker.post(
                        url, data=data, timeout=300
                    )
                )
                body = answer.json() if answer.ok else {}
                errors = [p.get("error", "") for p in body.get("panes", [])]
                shown = next((e for e in errors if e), answer.status_code)
                answers[name].append((answer.status_code, seconds, shown))
                i += 1

        threads = [
            threading.Thread(target=attack, args=(n,)) for n in range(args.hostile)
        ]
        for thread in threads:
            thread.start()
        under, under_live = [], []
        while time.monotonic() < stop:
            under.append(timed(normal_preview)[0])
            under_live.append(timed(liveness)[0])
        for thread in threads:
            thread.join()
        print(f"normal preview under attack: {summary(under)}")
        print(f"liveness probe under attack: {summary(under_live)}")
        for name, seen in answers.items():
            if not seen:
                continue
            status, seconds, shown = seen[-1]
            worst = max(s for _, s, _ in seen)
            print(
                f"  hostile {name!r}: {len(seen)} sent, last HTTP {status} in "
                f"{seconds:.2f} s (worst {worst:.2f} s): {str(shown)[:110]}"
            )
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        worker_pid = int(children[0]) if children else server.pid
        print(f"web process peak resident memory: {rss_mb(worker_pid):.0f} MB")
        print(f"load after {os.getloadavg()}")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(var_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
