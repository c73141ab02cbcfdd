"""Checks run when a draft is saved; each problem names where it is."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.utils.translation import gettext as _

from templates_app import rendering

# The data schema's rules live in data_schemas; these names are used from here.
from templates_app.data_schemas import (  # noqa: F401
    data_problems,
    schema_problems,
    schema_validator,
    validator_errors,
    validator_problems,
)
from templates_app.models import (
    CHANNEL_FIELDS,
    CHANNEL_REQUIRED_FIELDS,
    HTML_FIELDS,
    TEMPLATED_FIELDS,
    Channel,
)
from templates_app.rendering import BlockSource, RenderError
from templates_app.sms import sms_analyse


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
