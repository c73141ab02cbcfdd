"""What bounds renders: the errors they raise and the budget they spend.

One allowance (steps, time, bytes built) is shared by every render of a
request (`request_budget`); each render adds its own deadline and call depth.
Both live in context variables; the sandbox, its operators, comparisons and
the filters check them on every step, and a value's size in bytes is checked
before it is built, never after.
"""

import contextlib
import contextvars
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from templates_app.formats import DEFAULT_FORMATS, Formats

# Integers may not grow past this many bits (`9**9**9` would hang the worker).
MAX_INT_BITS = 4096
# What one list or dict slot, a number or None counts for in a value's size.
SLOT_BYTES = 8
# Values nested deeper than this are refused (data itself stops at 32).
MAX_VALUE_DEPTH = 100

DEFAULT_RENDER_SECONDS = 2.0
DEFAULT_REQUEST_SECONDS = 5.0
DEFAULT_MAX_STEPS = 1_000_000
DEFAULT_MAX_CALL_DEPTH = 24
DEFAULT_MAX_OUTPUT_BYTES = 1_000_000
DEFAULT_REQUEST_MAX_BYTES = 64_000_000


class RenderError(Exception):
    """A template could not be rendered; names where, when known."""

    def __init__(
        self,
        message: str,
        *,
        channel: str | None = None,
        language: str | None = None,
        field: str | None = None,
        line: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.channel = channel
        self.language = language
        self.field = field
        self.line = line

    def locate(self, *, channel=None, language=None, field=None) -> "RenderError":
        """Fill in the place this error happened, keeping what is already known."""
        self.channel = self.channel or channel
        self.language = self.language or language
        self.field = self.field or field
        return self

    @property
    def where(self) -> str:
        parts = [p for p in (self.channel, self.language, self.field) if p]
        place = "/".join(parts)
        if self.line:
            place = f"{place} line {self.line}" if place else f"line {self.line}"
        return place

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class TemplateSourceError(RenderError):
    """The source does not parse or uses a construct that is not allowed."""


class MissingVariableError(RenderError):
    """The source uses a value the data does not have."""


class UnsafeOperationError(RenderError):
    """The source tried something the sandbox refuses."""


class RenderLimitError(RenderError):
    """The render went over a size, step, depth or time limit."""


class UnknownBlockError(RenderError):
    """The source includes a content block that does not exist."""


class DataError(RenderError):
    """The data given to a render is not plain JSON."""


@dataclass(frozen=True)
class BlockSource:
    """One language of one content block version, as the sandbox may use it."""

    code: str
    version_id: int
    number: int
    html: str
    text: str


@dataclass(frozen=True)
class RenderLimits:
    """The limits of one request's renders: plain values, passed to a worker."""

    render_seconds: float = DEFAULT_RENDER_SECONDS
    request_seconds: float = DEFAULT_REQUEST_SECONDS
    max_steps: int = DEFAULT_MAX_STEPS
    max_depth: int = DEFAULT_MAX_CALL_DEPTH
    max_value_bytes: int = DEFAULT_MAX_OUTPUT_BYTES
    max_request_bytes: int = DEFAULT_REQUEST_MAX_BYTES

    @classmethod
    def from_settings(cls) -> "RenderLimits":
        """Return the limits the settings give, with the defaults for the rest."""
        from django.conf import settings

        def read(name, default):
            return getattr(settings, name, default)

        return cls(
            render_seconds=read("TEMPLATE_RENDER_SECONDS", DEFAULT_RENDER_SECONDS),
            request_seconds=read("TEMPLATE_REQUEST_SECONDS", DEFAULT_REQUEST_SECONDS),
            max_steps=read("TEMPLATE_MAX_STEPS", DEFAULT_MAX_STEPS),
            max_depth=read("TEMPLATE_MAX_CALL_DEPTH", DEFAULT_MAX_CALL_DEPTH),
            max_value_bytes=read("TEMPLATE_MAX_OUTPUT_BYTES", DEFAULT_MAX_OUTPUT_BYTES),
            max_request_bytes=read(
                "TEMPLATE_REQUEST_MAX_BYTES", DEFAULT_REQUEST_MAX_BYTES
            ),
        )


@dataclass
class Allowance:
    """What every render of one request may spend together: steps, time, bytes.

    A request that renders fifty drafts shares one allowance, so it does no
    more work than one render could.
    """

    limits: RenderLimits
    deadline: float
    steps: int = 0
    bytes_built: int = 0

    def tick(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.limits.max_steps:
            raise RenderLimitError(
                _("The template did too much work (over %(limit)s steps).")
                % {"limit": self.limits.max_steps}
            )

    def build(self, size: int) -> None:
        """Account for a value of `size` bytes about to be built, or refuse it."""
        if size > self.limits.max_value_bytes:
            raise RenderLimitError(
                _(
                    "The template would build a value of over %(limit)s bytes"
                    " (TEMPLATE_MAX_OUTPUT_BYTES)."
                )
                % {"limit": self.limits.max_value_bytes}
            )
        self.bytes_built += size
        if self.bytes_built > self.limits.max_request_bytes:
            raise RenderLimitError(
                _(
                    "The renders of this request built over %(limit)s bytes in all"
                    " (TEMPLATE_REQUEST_MAX_BYTES)."
                )
                % {"limit": self.limits.max_request_bytes}
            )


_allowance_var: contextvars.ContextVar[Allowance | None] = contextvars.ContextVar(
    "template_request_allowance", default=None
)


@contextlib.contextmanager
def request_budget(limits: RenderLimits | None = None) -> Iterator[Allowance]:
    """Share one allowance between every render inside the block."""
    limits = limits or RenderLimits.from_settings()
    allowance = Allowance(
        limits=limits, deadline=time.monotonic() + limits.request_seconds
    )
    token = _allowance_var.set(allowance)
    try:
        yield allowance
    finally:
        _allowance_var.reset(token)


def request_budget_start(**kwargs) -> None:
    """Open the allowance every render of a web request shares (request_started)."""
    limits = RenderLimits.from_settings()
    _allowance_var.set(
        Allowance(limits=limits, deadline=time.monotonic() + limits.request_seconds)
    )


def request_budget_end(**kwargs) -> None:
    """Close the request's allowance (request_finished)."""
    _allowance_var.set(None)


def current_allowance() -> Allowance:
    """Return the request's allowance, or a fresh one for a lone render."""
    allowance = _allowance_var.get()
    if allowance is None:
        limits = RenderLimits.from_settings()
        allowance = Allowance(
            limits=limits, deadline=time.monotonic() + limits.request_seconds
        )
    return allowance


@dataclass
class _Budget:
    allowance: Allowance
    deadline: float
    max_depth: int
    max_output: int
    language: str
    html: bool
    context: dict
    blocks: Mapping[str, BlockSource]
    formats: Formats = DEFAULT_FORMATS
    used_blocks: dict[str, int] = field(default_factory=dict)
    depth: int = 0
    in_block: bool = False

    def tick(self, count: int = 1) -> None:
        self.allowance.tick(count)
        if time.monotonic() > self.deadline:
            raise RenderLimitError(_("The template took too long to render."))


_budget_var: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "template_render_budget", default=None
)


def _budget() -> _Budget:
    budget = _budget_var.get()
    if budget is None:
        # Reached only when Jinja tries to fold a constant while compiling:
        # refusing makes it leave the expression for render time.
        raise RuntimeError("no render in progress")
    return budget


def _check_int(value) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimitError(_("A number in the template grew too large."))


def _check_size(size: int) -> None:
    """Refuse a value of `size` bytes before it is built; count it if allowed."""
    _budget().allowance.build(size)


def text_bytes(text: str) -> int:
    """Return the bytes of text written out as UTF-8."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def value_bytes(value, limit: int) -> int:
    """Return the bytes a value takes written out; stop counting past `limit`.

    A list repeating one inner list counts the inner list every time, as its
    written form would, but walks it once.
    """
    return _value_bytes(value, limit, {}, 0)


def _value_bytes(value, limit: int, seen: dict, depth: int) -> int:
    if isinstance(value, str):
        return text_bytes(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return SLOT_BYTES
    if isinstance(value, int):
        return SLOT_BYTES + value.bit_length() // 3
    if not isinstance(value, list | tuple | dict):
        return SLOT_BYTES
    known = seen.get(id(value))
    if known is not None:
        return known
    if depth > MAX_VALUE_DEPTH:
        raise RenderLimitError(_("A value in the template is nested too deeply."))
    items = (
        [item for pair in value.items() for item in pair]
        if isinstance(value, dict)
        else value
    )
    total = 2
    for item in items:
        total += SLOT_BYTES + _value_bytes(item, limit - total, seen, depth + 1)
        if total > limit:
            break
    seen[id(value)] = total
    return total


def compare_cost(*values) -> int:
    """Return the steps comparing the values costs: the slots of the smaller.

    Pricing walks no further than the steps left, so it costs no more than
    the comparison it may refuse.
    """
    allowance = _budget().allowance
    walk = (allowance.limits.max_steps - allowance.steps + 1) * SLOT_BYTES
    sizes = [
        value_bytes(value, walk) // SLOT_BYTES
        for value in values
        if isinstance(value, list | tuple | dict | str)
    ]
    return 1 + (min(sizes) if len(sizes) == len(values) else 0)
