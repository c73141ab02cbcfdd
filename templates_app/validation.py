"""Checks run when a draft is saved; each problem names where it is."""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import jsonschema
from django.utils.translation import gettext as _
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from templates_app import rendering
from templates_app.models import (
    CHANNEL_FIELDS,
    CHANNEL_REQUIRED_FIELDS,
    HTML_FIELDS,
    TEMPLATED_FIELDS,
    Channel,
)
from templates_app.patterns import pattern_backtracks
from templates_app.rendering import BlockSource, RenderError
from templates_app.sms import sms_analyse

# A data schema describes a payload; a few hundred fields nest a few levels.
SCHEMA_MAX_CHARACTERS = 50_000
SCHEMA_MAX_DEPTH = 32
REFERENCE_KEYWORDS = ("$ref", "$dynamicRef", "$recursiveRef")
# Keywords whose values are data, not schemas: a "$ref" inside them is a value.
DATA_KEYWORDS = ("const", "enum", "default", "examples")


def _refuse_retrieval(uri: str):
    raise NoSuchResource(ref=uri)


# References resolve within the schema itself; no URL or file is ever fetched.
LOCAL_REFERENCES = Registry(retrieve=_refuse_retrieval)


@dataclass(frozen=True)
class Problem:
    """One validation finding, located as precisely as known."""

    message: str
    channel: str | None = None
    language: str | None = None
    field: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        place = "/".join(p for p in (self.channel, self.language, self.field) if p)
        if self.line:
            place = f"{place} line {self.line}"
        return f"{place}: {self.message}" if place else self.message


def _json_path(path: Iterable) -> str:
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


def _safety_problems(schema: dict) -> list[str]:
    """Return each reference that leaves the schema and each unsafe pattern."""
    problems = []
    for path, keyword, value in _keywords(schema):
        if (
            keyword in REFERENCE_KEYWORDS
            and isinstance(value, str)
            and not value.startswith("#")
        ):
            problems.append(
                _(
                    "The data schema refers to %(ref)s at %(path)s; references"
                    ' work only within the schema itself ("#/$defs/…").'
                )
                % {"ref": value, "path": _json_path(path)}
            )
        patterns = []
        if keyword == "pattern" and isinstance(value, str):
            patterns = [(value, _json_path((*path, keyword)))]
        elif keyword == "patternProperties" and isinstance(value, dict):
            patterns = [(name, _json_path((*path, keyword))) for name in value]
        for pattern, where in patterns:
            if pattern_backtracks(pattern):
                problems.append(
                    _(
                        "The pattern %(pattern)s at %(path)s repeats a group that"
                        " can match the same text in more than one way, which can"
                        " take unbounded time; write it without a repeat inside a"
                        " repeated group or overlapping alternatives."
                    )
                    % {"pattern": pattern, "path": where}
                )
    return problems


def schema_problems(schema) -> list[str]:
    """Return why a data schema is not a usable JSON Schema, if it is not."""
    if not isinstance(schema, dict):
        return [_("The data schema must be a JSON object.")]
    size = len(json.dumps(schema))
    if size > SCHEMA_MAX_CHARACTERS:
        return [
            _("The data schema is %(size)s characters long; the limit is %(limit)s.")
            % {"size": size, "limit": SCHEMA_MAX_CHARACTERS}
        ]
    if _depth(schema) > SCHEMA_MAX_DEPTH:
        return [
            _("The data schema is nested more than %(limit)s levels deep.")
            % {"limit": SCHEMA_MAX_DEPTH}
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
            % {"path": _json_path(exc.absolute_path), "error": exc.message}
        ]
    if problems := _safety_problems(schema):
        return problems
    if schema.get("type", "object") != "object":
        return [_('The data schema must describe an object ("type": "object").')]
    return []


def schema_validator(schema: dict):
    """Return a validator for a template's data schema, to check many payloads."""
    validator_class = jsonschema.validators.validator_for(
        schema, default=jsonschema.Draft202012Validator
    )
    return validator_class(
        schema, format_checker=jsonschema.FormatChecker(), registry=LOCAL_REFERENCES
    )


def validator_errors(validator, data) -> list[tuple[tuple, str]]:
    """Return (JSON path, message) for each place where data does not match."""
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    except Unresolvable as exc:
        return [
            (
                (),
                _(
                    "The data schema's reference %(ref)s cannot be resolved;"
                    " references work only within the schema itself."
                )
                % {"ref": exc.ref},
            )
        ]
    return [(tuple(error.absolute_path), error.message) for error in errors]


def validator_problems(validator, data) -> list[str]:
    """Return each place where data does not match, by JSON path."""
    return [
        _("%(path)s: %(error)s") % {"path": _json_path(path), "error": message}
        for path, message in validator_errors(validator, data)
    ]


def data_problems(schema: dict, data) -> list[str]:
    """Return each place where data does not match the schema, by JSON path."""
    return validator_problems(schema_validator(schema), data)


@dataclass
class ContentDraft:
    """The content of one channel and language as an author submitted it."""

    channel: str
    language: str
    fields: Mapping[str, str]

    def sources(self) -> dict[str, str]:
        return {
            name: self.fields.get(name, "") or ""
            for name in CHANNEL_FIELDS[self.channel]
        }


@dataclass
class ValidationReport:
    errors: list[Problem]
    warnings: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.errors


def validate_contents(
    *,
    channels: Iterable[str],
    default_language: str,
    schema: dict,
    sample_data,
    contents: list[ContentDraft],
    blocks_by_language: Mapping[str, Mapping[str, BlockSource]],
) -> ValidationReport:
    """Validate a version's content against its template's claims and schema."""
    errors: list[Problem] = []
    warnings: list[Problem] = []
    declared = set((schema or {}).get("properties", {}))
    claimed = set(channels)

    sample_ok = True
    for message in schema_problems(schema):
        errors.append(Problem(message))
        sample_ok = False
    if sample_ok:
        for message in data_problems(schema, sample_data):
            errors.append(
                Problem(_("Sample data does not match the schema at %s") % message)
            )
            sample_ok = False

    present = {(content.channel, content.language) for content in contents}
    for channel in sorted(claimed):
        if (channel, default_language) not in present:
            errors.append(
                Problem(
                    _(
                        "The template claims %(channel)s but this version has no"
                        " %(channel)s content in its default language"
                        " (%(language)s)."
                    )
                    % {"channel": channel, "language": default_language},
                    channel=channel,
                    language=default_language,
                )
            )

    parsed_ok: list[ContentDraft] = []
    for content in contents:
        place = {"channel": content.channel, "language": content.language}
        if content.channel not in claimed:
            errors.append(
                Problem(
                    _("The template does not claim the %(channel)s channel.")
                    % {"channel": content.channel},
                    **place,
                )
            )
        sources = content.sources()
        for name in CHANNEL_REQUIRED_FIELDS[content.channel]:
            if not sources[name].strip():
                errors.append(
                    Problem(_("This field is required."), field=name, **place)
                )
        clean = True
        blocks = blocks_by_language.get(content.language, {})
        for name, source in sources.items():
            if name not in TEMPLATED_FIELDS or not source:
                continue
            try:
                tree = rendering.parse(source, html=name in HTML_FIELDS)
                used_blocks = rendering.blocks_used(tree)
            except RenderError as exc:
                errors.append(Problem(exc.message, field=name, line=exc.line, **place))
                clean = False
                continue
            trees = [tree]
            for code in sorted(used_blocks):
                if code not in blocks:
                    errors.append(
                        Problem(
                            _("There is no content block %(code)s in %(language)s.")
                            % {"code": code, "language": content.language},
                            field=name,
                            **place,
                        )
                    )
                    clean = False
                    continue
                block = blocks[code]
                block_source = block.html if name in HTML_FIELDS else block.text
                try:
                    trees.append(
                        rendering.parse(block_source, html=name in HTML_FIELDS)
                    )
                except RenderError as exc:
                    errors.append(
                        Problem(
                            _("Content block %(code)s does not parse: %(error)s")
                            % {"code": code, "error": exc},
                            field=name,
                            **place,
                        )
                    )
                    clean = False
            undeclared = set()
            for each in trees:
                undeclared |= rendering.variables_used(each) - declared
            for variable in sorted(undeclared):
                errors.append(
                    Problem(
                        _("Uses %(name)s, which the data schema does not declare.")
                        % {"name": variable},
                        field=name,
                        **place,
                    )
                )
                clean = False
        if clean:
            parsed_ok.append(content)

    if not sample_ok:
        return ValidationReport(errors, warnings)
    for content in parsed_ok:
        try:
            rendered = rendering.render_content(
                channel=content.channel,
                language=content.language,
                sources=content.sources(),
                data=sample_data,
                blocks=blocks_by_language.get(content.language, {}),
            )
        except RenderError as exc:
            errors.append(
                Problem(
                    _("Fails with the sample data: %(error)s") % {"error": exc.message},
                    channel=exc.channel,
                    language=exc.language,
                    field=exc.field,
                    line=exc.line,
                )
            )
            continue
        if content.channel == Channel.SMS:
            info = sms_analyse(rendered.parts["sms_text"])
            if info.over_limit:
                warnings.append(
                    Problem(
                        _(
                            "The sample SMS needs %(segments)s segments (%(encoding)s);"
                            " more than %(limit)s."
                        )
                        % {
                            "segments": info.segments,
                            "encoding": info.encoding,
                            "limit": info.max_segments,
                        },
                        channel=content.channel,
                        language=content.language,
                        field="sms_text",
                    )
                )
    return ValidationReport(errors, warnings)
