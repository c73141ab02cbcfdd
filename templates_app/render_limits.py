"""What bounds one render: the errors it raises and the budget it spends.

The budget lives in a context variable for the duration of a render; the
sandbox, its operators and the filters check it on every step.
"""

import contextvars
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from templates_app.formats import DEFAULT_FORMATS, Formats

# Integers may not grow past this many bits (`9**9**9` would hang the worker).
MAX_INT_BITS = 4096


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


@dataclass
class _Budget:
    deadline: float
    max_steps: int
    max_depth: int
    max_output: int
    language: str
    html: bool
    context: dict
    blocks: Mapping[str, BlockSource]
    formats: Formats = DEFAULT_FORMATS
    used_blocks: dict[str, int] = field(default_factory=dict)
    steps: int = 0
    depth: int = 0
    in_block: bool = False

    def tick(self, count: int = 1) -> None:
        self.steps += count
        if self.steps > self.max_steps:
            raise RenderLimitError(
                _("The template did too much work (over %(limit)s steps).")
                % {"limit": self.max_steps}
            )
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


def _check_size(length: int) -> None:
    if length > _budget().max_output:
        raise RenderLimitError(
            _("The template built a value longer than %(limit)s characters.")
            % {"limit": _budget().max_output}
        )
