"""Domain problems: a stable code and its parameters, worded in the reader's language.

A refusal is raised, returned and stored as a `Problem`: a registered dotted
code (`channels.dispatch.state`) and its parameters. Its words are chosen only
when it is shown, from the message registered for the code (a lazy gettext
with named `%(name)s` placeholders), in the language active then: a refusal a
worker stored reads in Arabic to an Arabic agent, and an API client gets the
same code with a message in its `Accept-Language`.

Each app registers the codes it raises (`problem_register`), next to the code
that raises them; docs/api-errors.md lists them.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.functional import Promise

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
PLACEHOLDER = re.compile(r"%\((\w+)\)")


@dataclass(frozen=True, eq=False)
class ProblemKind:
    """A registered code: its message and how some parameters are shown.

    `shown` maps a parameter to a function that words its stored value (a
    channel code as its translated label, say); others are shown as stored.
    """

    code: str
    message: Promise
    shown: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)

    def __call__(self, **params) -> "Problem":
        return Problem(self.code, params)

    def placeholders(self) -> set[str]:
        """Return the names the message's placeholders use."""
        return set(PLACEHOLDER.findall(str(self.message)))


_registry: dict[str, ProblemKind] = {}


def problem_register(
    code: str,
    message: Promise,
    shown: Mapping[str, Callable[[Any], Any]] | None = None,
) -> ProblemKind:
    """Register a dotted code with its lazy message; return the kind to build with."""
    if not CODE_PATTERN.match(code):
        raise ValueError(f"problem code {code!r} must be dotted lowercase")
    if not isinstance(message, Promise):
        raise TypeError(f"problem {code!r}: the message must be a gettext_lazy text")
    if code in _registry:
        raise ValueError(f"problem code {code!r} is already registered")
    kind = _registry[code] = ProblemKind(code, message, dict(shown or {}))
    return kind


def problem_kinds() -> list[ProblemKind]:
    """Return every registered kind, sorted by code."""
    return sorted(_registry.values(), key=lambda kind: kind.code)


def _stored(value: Any) -> Any:
    """Return a parameter as JSON can hold it (a nested problem as its dict)."""
    if isinstance(value, Problem):
        return value.as_stored()
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, list | tuple):
        return [_stored(item) for item in value]
    return str(value)


def _worded(value: Any) -> Any:
    if isinstance(value, Problem | Promise):
        return str(value)
    if isinstance(value, Mapping) and "code" in value:
        return str(problem_from(value))
    if isinstance(value, list | tuple):
        return ", ".join(str(_worded(item)) for item in value)
    return value


class Problem:
    """One domain problem: a code and its parameters; `str()` words it."""

    __slots__ = ("code", "params")

    def __init__(self, code: str, params: Mapping[str, Any] | None = None):
        self.code = code
        self.params = {name: _stored(value) for name, value in (params or {}).items()}

    def __str__(self) -> str:
        kind = _registry.get(self.code)
        if kind is None:
            return self.code
        params = {
            name: _worded(kind.shown[name](value) if name in kind.shown else value)
            for name, value in self.params.items()
        }
        try:
            return str(kind.message) % params
        except (KeyError, TypeError, ValueError):
            # A row stored under an older message's parameters: still shown.
            return f"{self.code} {self.params}"

    def __repr__(self) -> str:
        return f"Problem({self.code!r}, {self.params!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Problem) and (self.code, self.params) == (
            other.code,
            other.params,
        )

    def __hash__(self) -> int:
        return hash(self.code)

    def as_stored(self) -> dict:
        """Return the problem as it is stored: its code and parameters."""
        return {"code": self.code, "params": self.params}

    def as_api(self) -> dict:
        """Return the problem as an API error: code, message and parameters."""
        return {"code": self.code, "message": str(self), "params": self.params}

    def validation_error(self, field_name: str | None = None) -> ValidationError:
        """Return a Django ValidationError carrying the problem and its code."""
        error = ValidationError(self, code=self.code)
        return ValidationError({field_name: error}) if field_name else error


def problem_from(stored: Any) -> "Problem | str":
    """Return a stored problem ({code, params}); older text is kept as written."""
    if isinstance(stored, Problem):
        return stored
    if isinstance(stored, Mapping) and isinstance(stored.get("code"), str):
        return Problem(stored["code"], stored.get("params") or {})
    return str(stored)


def problem_api(item: Any) -> dict:
    """Return one error as the API shows it, whatever it was stored as.

    A problem keeps its code; DRF's own errors keep theirs (`required`,
    `invalid`, ...); older free text is `invalid`.
    """
    problem = problem_from(item)
    if isinstance(problem, Problem):
        return problem.as_api()
    return {"code": str(getattr(item, "code", "invalid")), "message": problem}


def problems_api(problems: Any) -> Any:
    """Return a field -> errors structure (nested as it comes) as API errors."""
    if isinstance(problems, Mapping) and not isinstance(problems.get("code"), str):
        return {name: problems_api(value) for name, value in problems.items()}
    if isinstance(problems, list | tuple):
        return [problems_api(item) for item in problems]
    if isinstance(problems, bool | int | float) or problems is None:
        return problems  # a count beside the errors (rows_not_shown)
    return problem_api(problems)


class DomainError(Exception):
    """An error that is one or more problems: raised with codes, worded when shown."""

    def __init__(self, problem: Problem, *more: Problem):
        super().__init__(problem, *more)
        self.problem = problem
        self.problems = [problem, *more]

    @property
    def code(self) -> str:
        return self.problem.code

    def __str__(self) -> str:
        return "; ".join(str(problem) for problem in self.problems)

    def as_api(self) -> list[dict]:
        """Return the problems as API errors."""
        return [problem.as_api() for problem in self.problems]


def label_of(choices) -> Callable[[Any], Any]:
    """Return a parameter display that shows a choice's code as its label."""

    def label(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return [label(item) for item in value]
        try:
            return choices(value).label
        except ValueError:
            return value

    return label
