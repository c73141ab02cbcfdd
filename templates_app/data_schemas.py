"""A template's data schema: what it may contain, and the validator built from it.

A schema is written by an author and runs on every trigger, so it is held to
what describing a payload needs and nothing that reaches outside or runs long:

- `$ref` resolves only within the schema itself: the validator's reference
  registry refuses every URL, file and other external reference, so no schema
  ever makes the server fetch or read anything (on save, trigger or batch);
- its JSON is at most `TEMPLATES_SCHEMA_MAX_BYTES` bytes (UTF-8) and
  `TEMPLATES_SCHEMA_MAX_DEPTH` levels of nesting;
- a `pattern` (or a `patternProperties` name) with a catastrophic-backtracking
  shape is refused on save (`templates_app/patterns.py`), and every pattern is
  evaluated with the `regex` module under `TEMPLATES_SCHEMA_PATTERN_TIMEOUT`
  seconds, so a pattern that slipped through is a validation error, not a hang;
- `unevaluatedProperties` beside `patternProperties` is refused: jsonschema
  matches those patterns with `re`, outside any timeout;
- checking one payload follows at most
  `TEMPLATES_SCHEMA_MAX_REFERENCES_FOLLOWED` references, so references that
  double the work at every step, or loop, are a clear refusal.
"""

import json
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import jsonschema
import regex
from django.conf import settings
from django.utils.translation import gettext as _
from jsonschema import ValidationError
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from templates_app.patterns import pattern_backtracks
from templates_app.schema_messages import schema_message

# A data schema describes a payload; a few hundred fields nest a few levels.
DEFAULTS = {
    "TEMPLATES_SCHEMA_MAX_BYTES": 50_000,
    "TEMPLATES_SCHEMA_MAX_DEPTH": 32,
    # Seconds one pattern may run on one value (regex overshoots it ~3 times).
    "TEMPLATES_SCHEMA_PATTERN_TIMEOUT": 0.05,
    # References followed while checking one payload: references to references
    # under anyOf can otherwise double the work at every step.
    "TEMPLATES_SCHEMA_MAX_REFERENCES_FOLLOWED": 1_000,
}
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are data, not schemas: a "$ref" inside them is a value.
DATA_KEYWORDS = ("const", "enum", "default", "examples")
PATTERN_ERRORS = (regex.error, re.error, RecursionError, OverflowError)


def limit(name: str):
    """Return a schema limit: the setting of that name, or its default."""
    return getattr(settings, name, DEFAULTS[name])


def _refuse_retrieval(uri: str):
    raise NoSuchResource(ref=uri)


# References resolve within the schema itself; no URL or file is ever fetched.
LOCAL_REFERENCES = Registry(retrieve=_refuse_retrieval)


def json_path(path: Iterable) -> str:
    return "/" + "/".join(str(part) for part in path)


def _depth(value) -> int:
    """Return how deeply objects and arrays nest in a JSON value."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _keywords(schema, path=()) -> Iterator[tuple[tuple, str, object]]:
    """Yield (path, keyword, value) for every keyword of every subschema."""
    if isinstance(schema, list):
        for index, item in enumerate(schema):
            yield from _keywords(item, (*path, index))
        return
    if not isinstance(schema, dict):
        return
    for keyword, value in schema.items():
        yield path, keyword, value
        if keyword in DATA_KEYWORDS:
            continue
        yield from _keywords(value, (*path, keyword))


def _reference_problem(ref: str, where: str) -> str:
    return _(
        "References outside the schema are not allowed: %(ref)s at %(path)s;"
        ' references work only within the schema itself ("#/$defs/…").'
    ) % {"ref": ref, "path": where}


def _pattern_problem(pattern: str, where: str) -> str:
    return _(
        "The pattern %(pattern)s at %(path)s repeats a group that can match the"
        " same text in more than one way, which can take unbounded time; write it"
        " without a repeat inside a repeated group or overlapping alternatives."
    ) % {"pattern": pattern, "path": where}


def _unevaluated_problem() -> str:
    return _(
        "The data schema uses unevaluatedProperties beside patternProperties,"
        " which cannot be checked in bounded time."
    )


def _safety_problems(schema: dict) -> list[str]:
    """Return each reference that leaves the schema and each unsafe pattern."""
    problems = []
    keywords = list(_keywords(schema))
    for path, keyword, value in keywords:
        if (
            keyword in REFERENCE_KEYWORDS
            and isinstance(value, str)
            and not value.startswith("#")
        ):
            problems.append(_reference_problem(value, json_path(path)))
        patterns = []
        if keyword == "pattern" and isinstance(value, str):
            patterns = [(value, json_path((*path, keyword)))]
        elif keyword == "patternProperties" and isinstance(value, dict):
            patterns = [(name, json_path((*path, keyword))) for name in value]
        problems.extend(
            _pattern_problem(pattern, where)
            for pattern, where in patterns
            if pattern_backtracks(pattern)
        )
    used = {keyword for _path, keyword, _value in keywords}
    if {"patternProperties", "unevaluatedProperties"} <= used:
        problems.append(_unevaluated_problem())
    return problems


def schema_problems(schema) -> list[str]:
    """Return why a data schema is not a usable JSON Schema, if it is not."""
    if not isinstance(schema, dict):
        return [_("The data schema must be a JSON object.")]
    size = len(json.dumps(schema, ensure_ascii=False).encode())
    max_bytes = limit("TEMPLATES_SCHEMA_MAX_BYTES")
    if size > max_bytes:
        return [
            _("The data schema is %(size)s bytes long; the limit is %(limit)s.")
            % {"size": size, "limit": max_bytes}
        ]
    max_depth = limit("TEMPLATES_SCHEMA_MAX_DEPTH")
    if _depth(schema) > max_depth:
        return [
            _("The data schema is nested more than %(limit)s levels deep.")
            % {"limit": max_depth}
        ]
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(schema)
    except RecursionError:
        return [_("The data schema nests too deeply to check (in a pattern's groups).")]
    except jsonschema.SchemaError as exc:
        return [
            _("The data schema is not valid at %(path)s: %(error)s")
            % {"path": json_path(exc.absolute_path), "error": exc.message}
        ]
    if problems := _safety_problems(schema):
        return problems
    if schema.get("type", "object") != "object":
        return [_('The data schema must describe an object ("type": "object").')]
    return []


class PatternFailed(Exception):
    """A pattern could not be evaluated: too slow, or not a usable expression."""

    def __init__(self, pattern: str, message: str):
        super().__init__(message)
        self.pattern = pattern
        self.message = message


# The patterns stopped for taking too long while checking the current payload
# (or batch, see `patterns_scope`): each is refused at once from then on, so
# many values cannot each spend the timeout.
_STOPPED: ContextVar[set[str] | None] = ContextVar("stopped", default=None)


@contextmanager
def patterns_scope():
    """Share stopped patterns across the payloads checked inside (a batch)."""
    token = _STOPPED.set(set()) if _STOPPED.get() is None else None
    try:
        yield
    finally:
        if token is not None:
            _STOPPED.reset(token)


def _too_slow(pattern: str) -> PatternFailed:
    return PatternFailed(
        pattern,
        _(
            "The pattern %(pattern)s takes too long on this value; it was"
            " stopped. Ask the template's author to simplify the pattern."
        )
        % {"pattern": pattern},
    )


def _search(pattern: str, text: str) -> bool:
    """Match a schema pattern with the `regex` module, bounded in time."""
    stopped = _STOPPED.get()
    if stopped is not None and pattern in stopped:
        raise _too_slow(pattern)
    try:
        return (
            regex.search(
                pattern, text, timeout=limit("TEMPLATES_SCHEMA_PATTERN_TIMEOUT")
            )
            is not None
        )
    except TimeoutError:
        if stopped is not None:
            stopped.add(pattern)
        raise _too_slow(pattern) from None
    except PATTERN_ERRORS:
        raise PatternFailed(
            pattern,
            _("The pattern %(pattern)s cannot be evaluated.") % {"pattern": pattern},
        ) from None


def _pattern(validator, pattern, instance, schema):
    if not validator.is_type(instance, "string"):
        return
    try:
        if not _search(pattern, instance):
            yield ValidationError(f"{instance!r} does not match {pattern!r}")
    except PatternFailed as exc:
        yield ValidationError(exc.message)


def _pattern_properties(validator, pattern_properties, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in pattern_properties.items():
        for key, value in instance.items():
            try:
                matched = _search(pattern, key)
            except PatternFailed as exc:
                yield ValidationError(exc.message, path=[key])
                continue
            if matched:
                yield from validator.descend(
                    value, subschema, path=key, schema_path=pattern
                )


def _additional(instance, schema) -> Iterator[str]:
    """Yield the keys neither `properties` nor `patternProperties` cover."""
    properties = schema.get("properties", {})
    patterns = list(schema.get("patternProperties", {}))
    for key in instance:
        if key in properties:
            continue
        if not any(_search(pattern, key) for pattern in patterns):
            yield key


def _additional_properties(validator, additional, instance, schema):
    if not validator.is_type(instance, "object"):
        return
    try:
        extras = sorted(_additional(instance, schema))
    except PatternFailed as exc:
        yield ValidationError(exc.message)
        return
    if validator.is_type(additional, "object"):
        for extra in extras:
            yield from validator.descend(instance[extra], additional, path=extra)
    elif not additional and extras:
        joined = ", ".join(repr(extra) for extra in extras)
        if "patternProperties" in schema:
            verb = "does" if len(extras) == 1 else "do"
            patterns = ", ".join(repr(p) for p in sorted(schema["patternProperties"]))
            yield ValidationError(
                f"{joined} {verb} not match any of the regexes: {patterns}"
            )
        else:
            verb = "was" if len(extras) == 1 else "were"
            yield ValidationError(
                f"Additional properties are not allowed ({joined} {verb} unexpected)"
            )


def _unevaluated_refused(validator, value, instance, schema):
    yield ValidationError(_unevaluated_problem())


def _is_regex(instance) -> bool:
    if not isinstance(instance, str):
        return True
    regex.compile(instance)
    return True


def _format_checker() -> jsonschema.FormatChecker:
    """The standard format checks, a `regex` value compiled without a 500."""
    checker = jsonschema.FormatChecker()
    checker.checks("regex", raises=PATTERN_ERRORS)(_is_regex)
    return checker


class TooManyReferences(Exception):
    """Checking one payload followed more references than the limit allows."""


# How many references the payload being checked has followed so far.
_FOLLOWED: ContextVar[list[int] | None] = ContextVar("followed", default=None)


def _counted(follow):
    """Wrap a reference keyword so that each use counts against the limit."""

    def keyword(validator, value, instance, schema):
        followed = _FOLLOWED.get()
        if followed is not None:
            followed[0] += 1
            if followed[0] > limit("TEMPLATES_SCHEMA_MAX_REFERENCES_FOLLOWED"):
                raise TooManyReferences
        yield from follow(validator, value, instance, schema)

    return keyword


_BOUNDED: dict[tuple[type, bool], type] = {}


def _bounded(validator_class: type, *, unevaluated_refused: bool) -> type:
    """Return the validator class with every pattern matched under a timeout."""
    key = (validator_class, unevaluated_refused)
    if key not in _BOUNDED:
        replaced = {
            "pattern": _pattern,
            "patternProperties": _pattern_properties,
            "additionalProperties": _additional_properties,
        }
        if unevaluated_refused:
            replaced["unevaluatedProperties"] = _unevaluated_refused
        for keyword in REFERENCE_KEYWORDS:
            if keyword in validator_class.VALIDATORS:
                replaced[keyword] = _counted(validator_class.VALIDATORS[keyword])
        _BOUNDED[key] = jsonschema.validators.extend(
            validator_class,
            {k: v for k, v in replaced.items() if k in validator_class.VALIDATORS},
        )
    return _BOUNDED[key]


def schema_validator(schema: dict):
    """Return a validator for a template's data schema, to check many payloads.

    Schemas stored before a rule existed are held to it here too: no reference
    is fetched, every pattern runs under a timeout.
    """
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    used = {keyword for _path, keyword, _value in _keywords(schema)}
    bounded = _bounded(
        validator_class,
        unevaluated_refused={"patternProperties", "unevaluatedProperties"} <= used,
    )
    return bounded(schema, format_checker=_format_checker(), registry=LOCAL_REFERENCES)


def validator_errors(validator, data) -> list[tuple[tuple, str]]:
    """Return (JSON path, message) for each place where data does not match."""
    token = _FOLLOWED.set([0])
    try:
        with patterns_scope():
            errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    except (TooManyReferences, RecursionError):
        return [
            (
                (),
                _(
                    "The data schema's references lead to more than %(limit)s"
                    " checks for this data (or loop without end); simplify the"
                    " schema's references."
                )
                % {"limit": limit("TEMPLATES_SCHEMA_MAX_REFERENCES_FOLLOWED")},
            )
        ]
    except Unresolvable as exc:
        return [
            (
                (),
                _(
                    "The data schema's reference %(ref)s cannot be resolved;"
                    " references outside the schema are not allowed."
                )
                % {"ref": exc.ref},
            )
        ]
    finally:
        _FOLLOWED.reset(token)
    return [(tuple(error.absolute_path), schema_message(error)) for error in errors]


def validator_problems(validator, data) -> list[str]:
    """Return each place where data does not match, by JSON path."""
    return [
        _("%(path)s: %(error)s") % {"path": json_path(path), "error": message}
        for path, message in validator_errors(validator, data)
    ]


def data_problems(schema: dict, data) -> list[str]:
    """Return each place where data does not match the schema, by JSON path."""
    return validator_problems(schema_validator(schema), data)
