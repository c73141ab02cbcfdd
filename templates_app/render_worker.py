"""Run untrusted renders (previews, test sends) in a child process with hard limits.

The web process loads what a render needs from the database and hands the
child plain data; the child has no database, mail server or network work to
do. Each render gets its own child, forked from a warm fork server (Django,
the sandbox and WeasyPrint already loaded), limited by the kernel in CPU
time (RLIMIT_CPU) and address space (RLIMIT_AS), and killed by the web
process past a wall-clock timeout. A killed child takes nothing else with it:
there is no shared pool to break or replace. At most `TEMPLATE_WORKERS`
children run at once per web process.
"""

import importlib
import multiprocessing
import os
import pickle
import resource
import signal
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from templates_app.render_limits import RenderError, RenderLimitError, RenderLimits

DEFAULT_WORKER_SECONDS = 20.0
DEFAULT_WORKER_CPU_SECONDS = 15
DEFAULT_WORKER_MEMORY_MB = 768
DEFAULT_WORKERS = 2
BOOT_MODULE = "templates_app.render_worker_boot"


@dataclass(frozen=True)
class WorkerLimits:
    """The hard limits of one render child."""

    wall_seconds: float = DEFAULT_WORKER_SECONDS
    cpu_seconds: int = DEFAULT_WORKER_CPU_SECONDS
    memory_mb: int = DEFAULT_WORKER_MEMORY_MB

    @classmethod
    def from_settings(cls) -> "WorkerLimits":
        """Return the limits the settings give, with the defaults for the rest."""
        return cls(
            wall_seconds=float(
                getattr(settings, "TEMPLATE_WORKER_SECONDS", DEFAULT_WORKER_SECONDS)
            ),
            cpu_seconds=int(
                getattr(
                    settings, "TEMPLATE_WORKER_CPU_SECONDS", DEFAULT_WORKER_CPU_SECONDS
                )
            ),
            memory_mb=int(
                getattr(settings, "TEMPLATE_WORKER_MEMORY_MB", DEFAULT_WORKER_MEMORY_MB)
            ),
        )


class WorkerLimitError(RenderLimitError):
    """The render went over the worker's hard limits and was stopped."""


_lock = threading.Lock()
_state: dict = {}


def _slots() -> threading.BoundedSemaphore:
    with _lock:
        if "slots" not in _state:
            count = int(getattr(settings, "TEMPLATE_WORKERS", DEFAULT_WORKERS))
            _state["slots"] = threading.BoundedSemaphore(max(count, 1))
        return _state["slots"]


def _context():
    context = multiprocessing.get_context("forkserver")
    with _lock:
        if "context" not in _state:
            # Read only when the fork server starts: the first render.
            context.set_forkserver_preload([BOOT_MODULE])
            _state["context"] = context
    return context


def running() -> int:
    """Return how many render children this process has running now."""
    with _lock:
        return _state.get("running", 0)


def _count(delta: int) -> None:
    with _lock:
        _state["running"] = _state.get("running", 0) + delta


def over_limits(reason: str) -> WorkerLimitError:
    """Return the error a web request shows when a render child was stopped."""
    return WorkerLimitError(
        _("The preview went over its limits: %(reason)s") % {"reason": reason}
    )


def run(target: str, *args, limits: WorkerLimits | None = None):
    """Call `module:function` with plain-data args in a limited child; return its value.

    A RenderError the child raises is raised here again; a child stopped by
    a limit raises WorkerLimitError naming the limit.
    """
    limits = limits or WorkerLimits.from_settings()
    payload = pickle.dumps(
        (target, args, RenderLimits.from_settings(), translation.get_language())
    )
    slots = _slots()
    if not slots.acquire(timeout=limits.wall_seconds):
        raise over_limits(
            _("%(count)s other previews are running; try again shortly.")
            % {"count": getattr(settings, "TEMPLATE_WORKERS", DEFAULT_WORKERS)}
        )
    _count(1)
    try:
        outcome = _run_child(payload, limits)
    finally:
        _count(-1)
        slots.release()
    if outcome[0] == "ok":
        return outcome[1]
    if outcome[0] == "refused":
        kind, message, channel, language, field, line = outcome[1:]
        error_class = _ERRORS.get(kind, RenderError)
        raise error_class(
            message, channel=channel, language=language, field=field, line=line
        )
    raise over_limits(_memory_reason(limits))


def _run_child(payload: bytes, limits: WorkerLimits) -> tuple:
    context = _context()
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_child_main,
        args=(sender, payload, limits),
        daemon=True,
        name="template-render",
    )
    child.start()
    sender.close()
    outcome = None
    try:
        if receiver.poll(limits.wall_seconds):
            try:
                outcome = receiver.recv()
            except (EOFError, OSError):
                outcome = None
        else:
            child.kill()
            child.join()
            raise over_limits(
                _("it ran longer than %(seconds)s s (TEMPLATE_WORKER_SECONDS).")
                % {"seconds": limits.wall_seconds}
            )
    finally:
        receiver.close()
        child.join(timeout=5)
        if child.is_alive():
            child.kill()
            child.join()
    if outcome is not None:
        return outcome
    if child.exitcode == -signal.SIGXCPU:
        raise over_limits(
            _("it used more than %(seconds)s s of CPU (TEMPLATE_WORKER_CPU_SECONDS).")
            % {"seconds": limits.cpu_seconds}
        )
    if child.exitcode == -signal.SIGKILL:
        raise over_limits(_memory_reason(limits))
    raise over_limits(
        _("the render stopped unexpectedly (exit code %(code)s).")
        % {"code": child.exitcode}
    )


def _memory_reason(limits: WorkerLimits) -> str:
    return _("it needed more than %(mb)s MB of memory (TEMPLATE_WORKER_MEMORY_MB).") % {
        "mb": limits.memory_mb
    }


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _lower(kind: int, soft: int, hard: int) -> None:
    """Lower a resource limit, never above a hard limit already in place."""
    _, current = resource.getrlimit(kind)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    resource.setrlimit(kind, (soft, hard))


def _limit_self(limits: WorkerLimits) -> None:
    _lower(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    ceiling = _address_space() + limits.memory_mb * 1024 * 1024
    _lower(resource.RLIMIT_AS, ceiling, ceiling)


def _child_main(sender, payload: bytes, limits: WorkerLimits) -> None:
    """Run in the child: limit itself, call the target, send back the outcome."""
    _limit_self(limits)
    try:
        import django
        from django.apps import apps

        if not apps.ready:
            django.setup()
        from templates_app.render_limits import request_budget

        target, args, render_limits, language = pickle.loads(payload)  # noqa: S301
        module, name = target.split(":")
        function = getattr(importlib.import_module(module), name)
        with translation.override(language), request_budget(render_limits):
            try:
                outcome = ("ok", function(*args))
            except RenderError as exc:
                outcome = (
                    "refused",
                    type(exc).__name__,
                    exc.message,
                    exc.channel,
                    exc.language,
                    exc.field,
                    exc.line,
                )
    except MemoryError:
        outcome = ("memory",)
    try:
        sender.send(outcome)
    except MemoryError:
        sender.send(("memory",))
    sender.close()


def _error_classes() -> dict[str, type[RenderError]]:
    from templates_app import render_limits

    return {
        name: value
        for name, value in vars(render_limits).items()
        if isinstance(value, type) and issubclass(value, RenderError)
    }


_ERRORS = _error_classes()
