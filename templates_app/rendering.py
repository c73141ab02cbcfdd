"""The sandboxed renderer for user-authored template content.

Authors are untrusted. Their sources run in Jinja2's immutable sandbox with:
only plain JSON data as context; no loader (no include, import or extends);
a short allowlist of attributes and filters; intercepted operators that could
build huge values; a step budget, a call-depth cap and a wall-clock deadline
checked on every call, attribute access and loop iteration; limits on source
and output size. Content blocks come in through `block("code")`, resolved from
a mapping the caller supplies, never from the database inside the sandbox.
"""

import contextvars
import datetime
import decimal
import functools
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from babel import Locale
from babel import dates as babel_dates
from babel import numbers as babel_numbers
from django.conf import settings
from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2 import filters as jinja_filters
from jinja2.compiler import CodeGenerator
from jinja2.defaults import DEFAULT_TESTS
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

DEFAULT_MAX_SOURCE_CHARS = 100_000
DEFAULT_MAX_OUTPUT_CHARS = 500_000
DEFAULT_RENDER_SECONDS = 2.0
DEFAULT_MAX_STEPS = 1_000_000
DEFAULT_MAX_CALL_DEPTH = 24
MAX_RANGE = 10_000
MAX_DATA_DEPTH = 32
MAX_INT_BITS = 4096

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
FORBIDDEN_NODES = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from … import",
    nodes.Extends: "extends",
    nodes.Block: "block … endblock",
}


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


def _setting(name: str, default):
    return getattr(settings, name, default)


def _check_int(value) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise RenderLimitError(_("A number in the template grew too large."))


def _check_size(length: int) -> None:
    if length > _budget().max_output:
        raise RenderLimitError(
            _("The template built a value longer than %(limit)s characters.")
            % {"limit": _budget().max_output}
        )


class _BoundedCodeGenerator(CodeGenerator):
    """Compile `~` concatenations through a size check."""

    def visit_Concat(self, node, frame) -> None:
        self.write("environment.bounded_concat(")
        super().visit_Concat(node, frame)
        self.write(")")


class _LoopBoundTransformer:
    """Refuse forbidden constructs and route every for-loop through a budget."""

    def __init__(self, source_name: str | None):
        self.name = source_name

    def apply(self, tree: nodes.Template) -> nodes.Template:
        for node_type, label in FORBIDDEN_NODES.items():
            for node in tree.find_all(node_type):
                raise TemplateSyntaxError(
                    _(
                        "{%% %(tag)s %%} is not allowed; include content blocks"
                        ' with {{ block("code") }}.'
                    )
                    % {"tag": label},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Filter):
            if node.name not in VETTED_FILTERS:
                raise TemplateSyntaxError(
                    _(
                        "There is no filter named %(name)s here; the filters are:"
                        " %(names)s."
                    )
                    % {"name": node.name, "names": ", ".join(sorted(VETTED_FILTERS))},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Test):
            if node.name not in DEFAULT_TESTS:
                raise TemplateSyntaxError(
                    _("There is no test named %(name)s (in “is %(name)s”).")
                    % {"name": node.name},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Getattr):
            if node.attr.startswith("_"):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.attr},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Getitem):
            if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith(
                "_"
            ):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.arg.value},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.Name):
            if node.name == "self":
                raise TemplateSyntaxError(
                    _("The name 'self' is reserved and cannot be used."),
                    node.lineno,
                    self.name,
                )
            if node.name.startswith("_"):
                raise TemplateSyntaxError(
                    _("Names starting with '_' are not allowed (%(name)s).")
                    % {"name": node.name},
                    node.lineno,
                    self.name,
                )
        for node in tree.find_all(nodes.For):
            node.iter = nodes.Call(
                nodes.EnvironmentAttribute("bounded_iter"),
                [node.iter],
                [],
                None,
                None,
                lineno=node.lineno,
            )
        return tree


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
        )
        self.filters = dict(VETTED_FILTERS)
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
        return _LoopBoundTransformer(name).apply(tree)

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
                    _check_size(len(seq) * max(count, 0))
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
            _check_size(len(left) + len(right))
        result = super().call_binop(context, operator, left, right)
        _check_int(result)
        return result

    def bounded_concat(self, value):
        _budget().tick()
        _check_size(len(value))
        return value

    def bounded_iter(self, iterable) -> Iterator:
        budget = _budget()
        for item in iterable:
            budget.tick()
            yield item


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


def _bounded_join(value, separator="", attribute=None):
    if attribute is not None:
        raise UnsafeOperationError(_("join() does not take an attribute here."))
    items = [str(item) for item in value]
    _check_size(sum(map(len, items)) + len(str(separator)) * max(len(items) - 1, 0))
    if isinstance(separator, Markup) or any(isinstance(i, Markup) for i in value):
        return escape(separator).join(escape(i) for i in value)
    return str(separator).join(items)


_LOCALES = {"ar": Locale.parse("ar"), "en": Locale.parse("en")}


def _locale(context) -> Locale:
    # Parsed once: Babel re-parses locale names on every call otherwise.
    return _LOCALES["ar"] if _budget().language == "ar" else _LOCALES["en"]


def _decimal(value) -> decimal.Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise UnsafeOperationError(
            _("Expected a number, got %(value)r.") % {"value": value}
        )
    try:
        return decimal.Decimal(str(value))
    except decimal.InvalidOperation:
        raise UnsafeOperationError(
            _("Expected a number, got %(value)r.") % {"value": value}
        ) from None


@pass_context
def _money(context, amount, currency="SAR"):
    """Format an amount in a currency, for the render language."""
    if not (isinstance(currency, str) and len(currency) == 3 and currency.isalpha()):
        raise UnsafeOperationError(_("Currency must be a three-letter code."))
    return babel_numbers.format_currency(
        _decimal(amount), currency.upper(), locale=_locale(context)
    )


@pass_context
def _number(context, value, decimals=None):
    """Format a number with grouping, for the render language."""
    number = _decimal(value)
    if decimals is None:
        return babel_numbers.format_decimal(number, locale=_locale(context))
    if not isinstance(decimals, int) or not 0 <= decimals <= 6:
        raise UnsafeOperationError(_("Decimals must be between 0 and 6."))
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(
        number, format=pattern, locale=_locale(context), decimal_quantization=True
    )


@pass_context
def _date(context, value, format="long"):  # noqa: A002 (the filter's public name)
    """Format an ISO date or date-time, for the render language."""
    if isinstance(value, str):
        try:
            value = (
                datetime.date.fromisoformat(value)
                if len(value) == 10
                else datetime.datetime.fromisoformat(value)
            )
        except ValueError:
            raise UnsafeOperationError(
                _("Expected an ISO date, got %(value)r.") % {"value": value}
            ) from None
    if not isinstance(value, datetime.date):
        raise UnsafeOperationError(
            _("Expected an ISO date, got %(value)r.") % {"value": value}
        )
    if not isinstance(format, str) or len(format) > 64:
        raise UnsafeOperationError(_("The date format is not valid."))
    if isinstance(value, datetime.datetime):
        return babel_dates.format_datetime(value, format, locale=_locale(context))
    return babel_dates.format_date(value, format, locale=_locale(context))


VETTED_FILTERS = {
    "escape": escape,
    "e": escape,
    "upper": jinja_filters.do_upper,
    "lower": jinja_filters.do_lower,
    "title": jinja_filters.do_title,
    "capitalize": jinja_filters.do_capitalize,
    "trim": jinja_filters.do_trim,
    "truncate": jinja_filters.do_truncate,
    "default": jinja_filters.do_default,
    "d": jinja_filters.do_default,
    "length": len,
    "count": len,
    "first": jinja_filters.do_first,
    "last": jinja_filters.do_last,
    "join": _bounded_join,
    "round": jinja_filters.do_round,
    "int": jinja_filters.do_int,
    "abs": abs,
    "money": _money,
    "number": _number,
    "date": _date,
}

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
        size += len(chunk)
        if size > budget.max_output:
            raise RenderLimitError(
                _("The output is longer than %(limit)s characters.")
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
) -> str:
    """Render one source with data; record the block versions it used."""
    return _render_plain(
        source,
        _context_data(data),
        html=html,
        language=language,
        blocks=blocks,
        used_blocks=used_blocks,
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
) -> str:
    """Render one source with data already copied by `plain_data`."""
    budget = _Budget(
        deadline=time.monotonic()
        + _setting("TEMPLATE_RENDER_SECONDS", DEFAULT_RENDER_SECONDS),
        max_steps=_setting("TEMPLATE_MAX_STEPS", DEFAULT_MAX_STEPS),
        max_depth=_setting("TEMPLATE_MAX_CALL_DEPTH", DEFAULT_MAX_CALL_DEPTH),
        max_output=_setting("TEMPLATE_MAX_OUTPUT_CHARS", DEFAULT_MAX_OUTPUT_CHARS),
        language=language,
        html=html,
        context=context,
        blocks=blocks or {},
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
) -> RenderedContent:
    """Render one channel's sources in one language, finished for that channel.

    Email HTML is sanitised and always has a plain-text part; SMS text carries
    its encoding and segment count; letter CSS is passed through untemplated.
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
            )
        except RenderError as exc:
            raise exc.locate(channel=channel, language=language, field=name) from None
    result = RenderedContent(channel, language, parts, used)
    if channel == "email":
        parts["subject"] = " ".join(parts.get("subject", "").split())
        parts["html"] = emails.sanitise_html(parts.get("html", ""))
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
