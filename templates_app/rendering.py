"""The sandboxed renderer for user-authored template content.

Authors are untrusted. Their sources run in Jinja2's immutable sandbox with:
only plain JSON data as context; no loader (no include, import or extends);
a short allowlist of attributes and filters (checked when parsed, in
`render_parse`); operators, `~`, `join` and written-out values sized in bytes
before they are built; comparisons priced by their operands' size; a step
budget shared by the request, a call-depth cap and a wall-clock deadline
checked on every call, attribute access and loop iteration (`render_limits`);
limits on source and output size. Content blocks come in through
`block("code")`, resolved from a mapping the caller supplies, never from the
database inside the sandbox.
"""

import functools
import operator
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.compiler import CodeGenerator, optimizeconst
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from templates_app.formats import DEFAULT_FORMATS, Formats
from templates_app.render_filters import VETTED_FILTERS
from templates_app.render_limits import (
    MAX_INT_BITS,
    BlockSource,
    DataError,
    MissingVariableError,
    RenderError,
    RenderLimitError,
    TemplateSourceError,
    UnknownBlockError,
    UnsafeOperationError,
    _Budget,
    _budget,
    _budget_var,
    _check_int,
    _check_size,
    compare_cost,
    current_allowance,
    text_bytes,
    value_bytes,
)
from templates_app.render_parse import SourceChecker

DEFAULT_MAX_SOURCE_CHARS = 100_000
MAX_RANGE = 10_000
MAX_DATA_DEPTH = 32

# Methods of plain data an author may call; everything else, including
# str.format and anything starting with "_", is refused.
SAFE_METHODS = frozenset(
    {
        "items",
        "keys",
        "values",
        "get",
        "upper",
        "lower",
        "title",
        "capitalize",
        "strip",
        "lstrip",
        "rstrip",
        "startswith",
        "endswith",
        "split",
        "isdigit",
    }
)
LOOP_ATTRIBUTES = frozenset(
    {
        "index",
        "index0",
        "revindex",
        "revindex0",
        "first",
        "last",
        "length",
        "depth",
        "depth0",
        "previtem",
        "nextitem",
        "cycle",
        "changed",
    }
)


def _setting(name: str, default):
    return getattr(settings, name, default)


# Comparisons a template can write, as the sandbox evaluates them.
COMPARISONS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lteq": operator.le,
    "gt": operator.gt,
    "gteq": operator.ge,
    "in": lambda item, container: item in container,
    "notin": lambda item, container: item not in container,
}
# Tests that compare their value with an argument, priced like comparisons.
COMPARING_TESTS = frozenset(
    {"eq", "equalto", "==", "ne", "!=", "lt", "lessthan", "<", "le", "<="}
    | {"gt", "greaterthan", ">", "ge", ">=", "in"}
)


class _BoundedCodeGenerator(CodeGenerator):
    """Compile `~` concatenations and comparisons through the budget."""

    @optimizeconst
    def visit_Concat(self, node, frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.bounded_concat({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    def visit_Compare(self, node, frame) -> None:
        # Chained comparisons evaluate every operand; none has side effects.
        self.write("environment.bounded_compare(")
        self.visit(node.expr, frame)
        for operand in node.ops:
            self.write(f", {operand.op!r}, ")
            self.visit(operand.expr, frame)
        self.write(")")


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja2's immutable sandbox, narrowed and budgeted."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"+", "*", "**", "%", "//"})

    def __init__(self, *, autoescape: bool):
        super().__init__(
            autoescape=autoescape,
            undefined=StrictUndefined,
            loader=None,
            auto_reload=False,
            cache_size=0,
            keep_trailing_newline=True,
            finalize=_bounded_finalize,
        )
        self.filters = dict(VETTED_FILTERS)
        self.tests = {
            name: _priced_test(test, search=name == "in")
            if name in COMPARING_TESTS
            else test
            for name, test in self.tests.items()
        }
        self.globals = {"range": _bounded_range, "block": _block}

    def _parse(self, source, name, filename):
        limit = _setting("TEMPLATE_MAX_SOURCE_CHARS", DEFAULT_MAX_SOURCE_CHARS)
        if len(source) > limit:
            raise TemplateSyntaxError(
                _("The template is %(size)s characters; the limit is %(limit)s.")
                % {"size": len(source), "limit": limit},
                1,
                name,
            )
        tree = super()._parse(source, name, filename)
        return SourceChecker(name).apply(tree)

    def is_safe_attribute(self, obj, attr, value) -> bool:
        if isinstance(obj, LoopContext):
            return attr in LOOP_ATTRIBUTES
        if attr not in SAFE_METHODS:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def wrap_str_format(self, value):
        # str.format and format_map stay refused, even in their sandboxed form.
        return None

    def getattr(self, obj, attribute):
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj, argument):
        _budget().tick()
        return super().getitem(obj, argument)

    def call(self, context, obj, /, *args, **kwargs):
        budget = _budget()
        budget.tick()
        budget.depth += 1
        try:
            if budget.depth > budget.max_depth:
                raise RenderLimitError(
                    _("Calls are nested more than %(limit)s deep.")
                    % {"limit": budget.max_depth}
                )
            return super().call(context, obj, *args, **kwargs)
        finally:
            budget.depth -= 1

    def call_binop(self, context, operator, left, right):
        _budget().tick()
        if operator == "%" and isinstance(left, str):
            raise UnsafeOperationError(_("String formatting with % is not allowed."))
        if operator == "**":
            if (
                isinstance(right, int)
                and isinstance(left, int)
                and right > 0
                and left not in (0, 1, -1)
                and left.bit_length() * right > MAX_INT_BITS
            ):
                raise RenderLimitError(_("A number in the template grew too large."))
        elif operator == "*":
            for seq, count in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(count, int):
                    _check_size(_bytes_of(seq) * max(count, 0))
            if (
                isinstance(left, int)
                and isinstance(right, int)
                and left.bit_length() + right.bit_length() > MAX_INT_BITS
            ):
                raise RenderLimitError(_("A number in the template grew too large."))
        elif (
            operator == "+"
            and isinstance(left, str | list | tuple)
            and isinstance(right, str | list | tuple)
        ):
            _check_size(_bytes_of(left) + _bytes_of(right))
        result = super().call_binop(context, operator, left, right)
        _check_int(result)
        return result

    def bounded_concat(self, join, parts):
        _budget().tick()
        _check_size(sum(_bytes_of(part) for part in parts))
        return join(parts)

    def bounded_compare(self, left, *operations):
        budget = _budget()
        result = True
        for index in range(0, len(operations), 2):
            name, right = operations[index], operations[index + 1]
            # A search walks its container; an (in)equality the smaller side.
            searched = name in ("in", "notin")
            budget.tick(compare_cost(right) if searched else compare_cost(left, right))
            result = COMPARISONS[name](left, right)
            if not result:
                return result
            left = right
        return result

    def bounded_iter(self, iterable) -> Iterator:
        budget = _budget()
        for item in iterable:
            budget.tick()
            yield item


def _bytes_of(value) -> int:
    """Return a value's size in bytes, counting no further than the limit."""
    limit = _budget().allowance.limits.max_value_bytes
    return value_bytes(value, limit + 1)


def _bounded_finalize(value):
    """Refuse to write out a value larger than the limit, before it is written."""
    if isinstance(value, list | tuple | dict):
        _check_size(_bytes_of(value))
    return value


def _priced_test(test, *, search: bool):
    @functools.wraps(test)
    def priced(value, *args):
        _budget().tick(compare_cost(*args) if search else compare_cost(value, *args))
        return test(value, *args)

    return priced


def _bounded_range(*args) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise RenderLimitError(
            _("range() may produce at most %(limit)s numbers.") % {"limit": MAX_RANGE}
        )
    budget = _budget()
    for number in numbers:
        budget.tick()
        yield number


def _block(code):
    budget = _budget()
    if budget.in_block:
        raise UnsafeOperationError(_("A content block cannot include another block."))
    if not isinstance(code, str):
        raise UnknownBlockError(_("block() takes the block's code as text."))
    source = budget.blocks.get(code)
    if source is None:
        raise UnknownBlockError(
            _("There is no content block %(code)s in %(language)s.")
            % {"code": code, "language": budget.language}
        )
    budget.used_blocks[code] = source.version_id
    environment = _HTML_SANDBOX if budget.html else _TEXT_SANDBOX
    budget.in_block = True
    try:
        body = source.html if budget.html else source.text
        rendered = _generate(environment, body, budget, name=f"block:{code}")
    finally:
        budget.in_block = False
    # Block output was rendered by the autoescaping sandbox, so it is safe HTML.
    return Markup(rendered) if budget.html else rendered  # noqa: S704


_HTML_SANDBOX = _Sandbox(autoescape=True)
_TEXT_SANDBOX = _Sandbox(autoescape=False)


def environment(*, html: bool) -> _Sandbox:
    """Return the shared sandbox for HTML (autoescaped) or text sources."""
    return _HTML_SANDBOX if html else _TEXT_SANDBOX


@functools.lru_cache(maxsize=512)
def _compile(html: bool, source: str):
    return environment(html=html).from_string(source)


def _template_line(exc: BaseException) -> int | None:
    """Return the template line of the innermost template frame in a traceback."""
    line = getattr(exc, "lineno", None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith("<template"):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def parse(source: str, *, html: bool) -> nodes.Template:
    """Parse a source under the sandbox rules or raise TemplateSourceError."""
    try:
        return environment(html=html).parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateSourceError(exc.message or str(exc), line=exc.lineno) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateSourceError(_("The template is nested too deeply.")) from None


def variables_used(tree: nodes.Template) -> set[str]:
    """Return the top-level data names a parsed source reads."""
    return meta.find_undeclared_variables(tree) - set(_HTML_SANDBOX.globals)


def blocks_used(tree: nodes.Template) -> set[str]:
    """Return the block codes a parsed source includes; refuse computed codes."""
    codes = set()
    for call in tree.find_all(nodes.Call):
        if isinstance(call.node, nodes.Name) and call.node.name == "block":
            if (
                len(call.args) != 1
                or call.kwargs
                or not isinstance(call.args[0], nodes.Const)
                or not isinstance(call.args[0].value, str)
            ):
                raise TemplateSourceError(
                    _('block() takes one literal code, like block("legal-footer").'),
                    line=call.lineno,
                )
            codes.add(call.args[0].value)
    return codes


def plain_data(value, depth: int = 0):
    """Return a deep copy of JSON-like data made only of JSON types."""
    if depth > MAX_DATA_DEPTH:
        raise DataError(_("The data is nested too deeply."))
    if value is None or isinstance(value, bool | int | float | str):
        return str(value) if isinstance(value, str) else value
    if isinstance(value, list | tuple):
        return [plain_data(item, depth + 1) for item in value]
    if isinstance(value, dict):
        copy = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise DataError(_("Data keys must be text."))
            copy[key] = plain_data(item, depth + 1)
        return copy
    raise DataError(
        _("Data may hold only JSON values, not %(type)s.")
        % {"type": type(value).__name__}
    )


def _generate(environment_: _Sandbox, source: str, budget: _Budget, name: str) -> str:
    try:
        template = _compile(environment_.autoescape, source)
    except TemplateSyntaxError as exc:
        raise TemplateSourceError(exc.message or str(exc), line=exc.lineno) from None
    except (RecursionError, MemoryError, SyntaxError):
        raise TemplateSourceError(_("The template is nested too deeply.")) from None
    chunks, size = [], 0
    for chunk in template.generate(budget.context):
        size += text_bytes(chunk)
        if size > budget.max_output:
            raise RenderLimitError(
                _("The output is over %(limit)s bytes (TEMPLATE_MAX_OUTPUT_BYTES).")
                % {"limit": budget.max_output}
            )
        chunks.append(chunk)
    return "".join(chunks)


def render_source(
    source: str,
    data: Mapping,
    *,
    html: bool,
    language: str,
    blocks: Mapping[str, BlockSource] | None = None,
    used_blocks: dict[str, int] | None = None,
    formats: Formats = DEFAULT_FORMATS,
) -> str:
    """Render one source with data; record the block versions it used."""
    return _render_plain(
        source,
        _context_data(data),
        html=html,
        language=language,
        blocks=blocks,
        used_blocks=used_blocks,
        formats=formats,
    )


def _context_data(data) -> dict:
    """Return the data as a template reads it: a JSON object, copied."""
    if not isinstance(data, Mapping):
        raise DataError(_("The data must be a JSON object."))
    return plain_data(data)


def _render_plain(
    source: str,
    context: dict,
    *,
    html: bool,
    language: str,
    blocks: Mapping[str, BlockSource] | None,
    used_blocks: dict[str, int] | None,
    formats: Formats = DEFAULT_FORMATS,
) -> str:
    """Render one source with data already copied by `plain_data`."""
    allowance = current_allowance()
    limits = allowance.limits
    if time.monotonic() > allowance.deadline:
        raise RenderLimitError(
            _("The renders of this request took over %(limit)s s in all.")
            % {"limit": limits.request_seconds}
        )
    budget = _Budget(
        allowance=allowance,
        deadline=min(time.monotonic() + limits.render_seconds, allowance.deadline),
        max_depth=limits.max_depth,
        max_output=limits.max_value_bytes,
        language=language,
        html=html,
        context=context,
        blocks=blocks or {},
        formats=formats,
    )
    token = _budget_var.set(budget)
    try:
        return _generate(environment(html=html), source, budget, name="<template>")
    except RenderError as exc:
        exc.line = exc.line or _template_line(exc)
        raise
    except UndefinedError as exc:
        raise MissingVariableError(str(exc), line=_template_line(exc)) from None
    except SecurityError as exc:
        raise UnsafeOperationError(str(exc), line=_template_line(exc)) from None
    except TemplateError as exc:
        raise RenderError(str(exc), line=_template_line(exc)) from None
    except RecursionError:
        raise RenderLimitError(_("The template recursed too deeply.")) from None
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise RenderError(
            f"{type(exc).__name__}: {exc}", line=_template_line(exc)
        ) from None
    finally:
        _budget_var.reset(token)
        if used_blocks is not None:
            used_blocks.update(budget.used_blocks)


@dataclass
class RenderedContent:
    """The rendered parts of one channel in one language."""

    channel: str
    language: str
    parts: dict[str, str]
    block_versions: dict[str, int]
    sms: dict | None = None


def render_content(
    *,
    channel: str,
    language: str,
    sources: Mapping[str, str],
    data: Mapping,
    blocks: Mapping[str, BlockSource] | None = None,
    formats: Formats = DEFAULT_FORMATS,
    remote_images: bool = False,
) -> RenderedContent:
    """Render one channel's sources in one language, finished for that channel.

    Email HTML keeps remote images only with `remote_images` (the category's
    `allow_remote_images`).

    Email HTML is sanitised and always has a plain-text part; SMS text carries
    its encoding and segment count (after the digits are written, so
    Arabic-Indic digits count as UCS-2); letter CSS is passed through
    untemplated. `formats` gives the digits and calendar the filters use.
    """
    from templates_app import emails, sms
    from templates_app.models import HTML_FIELDS, TEMPLATED_FIELDS

    used: dict[str, int] = {}
    parts: dict[str, str] = {}
    context = None  # copied once, at the first templated field
    for name, source in sources.items():
        if name not in TEMPLATED_FIELDS:
            parts[name] = source
            continue
        if not source:
            parts[name] = ""  # nothing to render
            continue
        try:
            if context is None:
                context = _context_data(data)
            parts[name] = _render_plain(
                source,
                context,
                html=name in HTML_FIELDS,
                language=language,
                blocks=blocks,
                used_blocks=used,
                formats=formats,
            )
        except RenderError as exc:
            raise exc.locate(channel=channel, language=language, field=name) from None
    result = RenderedContent(channel, language, parts, used)
    if channel == "email":
        parts["subject"] = " ".join(parts.get("subject", "").split())
        parts["html"] = emails.sanitise_html(
            parts.get("html", ""), remote_images=remote_images
        )
        if not parts.get("text", "").strip():
            parts["text"] = emails.html_to_text(parts["html"])
    elif channel == "sms":
        result.sms = sms.sms_analyse(parts.get("sms_text", "")).as_dict()
    return result


def iter_sources(contents: Iterable) -> Iterator[tuple[str, str, str, str]]:
    """Yield (channel, language, field, source) for each templated field."""
    from templates_app.models import CHANNEL_FIELDS, TEMPLATED_FIELDS

    for content in contents:
        for name in CHANNEL_FIELDS[content.channel]:
            if name in TEMPLATED_FIELDS:
                yield content.channel, content.language, name, getattr(content, name)
