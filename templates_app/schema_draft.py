"""A data schema drafted from what the template's content uses.

Every source of every channel and language of the latest version is parsed;
the values it reads (`customer.name`), the lists it loops over
(`{% for item in items %}`), what the filters say of a value (`money` and
`number`: a number; `date`: a date) and the `is defined` tests (optional)
become a JSON Schema draft and matching sample data, which the author then
tightens. What is already declared is kept as the author wrote it.
"""

import copy
from dataclasses import dataclass, field

from django.contrib.auth.base_user import AbstractBaseUser
from jinja2 import nodes

from templates_app import rendering, selectors
from templates_app.drafting import template_save
from templates_app.models import HTML_FIELDS, Template

ITEM = "[]"
NUMBER_FILTERS = frozenset({"money", "number", "round", "int", "abs"})
LIST_FILTERS = frozenset({"length", "count", "first", "last", "join"})


@dataclass
class Shape:
    """What the content tells of one value."""

    kind: str = "string"  # string, number, date, object or array
    optional: bool = False
    properties: dict[str, "Shape"] = field(default_factory=dict)
    items: "Shape | None" = None


def _path(node, aliases: dict[str, list[str]], roots: set[str]) -> list[str] | None:
    if (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.EnvironmentAttribute)
        and len(node.args) == 1
    ):
        # The sandbox wraps every loop's iterable in a bounded iterator.
        return _path(node.args[0], aliases, roots)
    if isinstance(node, nodes.Name):
        if node.name in aliases:
            return list(aliases[node.name])
        return [node.name] if node.name in roots else None
    if isinstance(node, nodes.Getattr):
        base = _path(node.node, aliases, roots)
        return base + [node.attr] if base is not None else None
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        base = _path(node.node, aliases, roots)
        if base is None:
            return None
        return base + [node.arg.value if isinstance(node.arg.value, str) else ITEM]
    return None


def _mark(
    shapes: dict[str, Shape], path: list[str], kind: str | None, optional=False
) -> None:
    """Record what `path` is; `optional` (an `is defined` test) sticks to it."""
    name, rest = path[0], path[1:]
    shape = shapes.setdefault(name, Shape())
    while rest:
        step, rest = rest[0], rest[1:]
        if step == ITEM:
            shape.kind = "array"
            shape.items = shape.items or Shape()
            shape = shape.items
        else:
            if shape.kind != "array":
                shape.kind = "object"
            shape = shape.properties.setdefault(step, Shape())
    if optional:
        shape.optional = True
    if kind == "array":
        shape.kind = "array"
        shape.items = shape.items or Shape()
    elif kind and shape.kind not in ("object", "array"):
        shape.kind = kind


def _walk(node, aliases, roots, shapes) -> None:
    if isinstance(node, nodes.For):
        _walk(node.iter, aliases, roots, shapes)
        inner = dict(aliases)
        iterated = _path(node.iter, aliases, roots)
        if iterated is not None:
            _mark(shapes, iterated, "array")
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = [*iterated, ITEM]
        for child in [*node.body, *node.else_, *([node.test] if node.test else [])]:
            _walk(child, inner, roots, shapes)
        return
    path = _path(node, aliases, roots)
    if path is not None:
        _mark(shapes, path, None)
        return
    if isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
        # A method of a value (`name.upper()`), not a key of it.
        owner = _path(node.node.node, aliases, roots)
        if owner is not None and node.node.attr in rendering.SAFE_METHODS:
            _mark(shapes, owner, None)
            for child in [*node.args, *node.kwargs]:
                _walk(child, aliases, roots, shapes)
            return
    if isinstance(node, nodes.Filter):
        value = _path(node.node, aliases, roots) if node.node is not None else None
        if value is not None:
            kind = (
                "number"
                if node.name in NUMBER_FILTERS
                else "date"
                if node.name == "date"
                else "array"
                if node.name in LIST_FILTERS
                else None
            )
            _mark(shapes, value, kind)
            for child in [*node.args, *node.kwargs]:
                _walk(child, aliases, roots, shapes)
            return
    if isinstance(node, nodes.Test) and node.name == "defined":
        tested = _path(node.node, aliases, roots)
        if tested is not None:
            _mark(shapes, tested, None, optional=True)
            return
    for child in node.iter_child_nodes():
        _walk(child, aliases, roots, shapes)


def shapes_used(sources: list[tuple[str, str]]) -> dict[str, Shape]:
    """Return the shape of every top-level value the (field, source) pairs read."""
    shapes: dict[str, Shape] = {}
    for name, source in sources:
        try:
            tree = rendering.parse(source, html=name in HTML_FIELDS)
        except rendering.RenderError:
            continue  # reported on its field when the draft is saved
        _walk(tree, {}, rendering.variables_used(tree) - {"loop"}, shapes)
    return shapes


def _schema(shape: Shape) -> dict:
    if shape.kind == "object":
        return _object_schema(shape.properties)
    if shape.kind == "array":
        return {"type": "array", "items": _schema(shape.items or Shape())}
    if shape.kind == "number":
        return {"type": "number"}
    if shape.kind == "date":
        return {"type": "string", "format": "date"}
    return {"type": "string"}


def _object_schema(properties: dict[str, Shape]) -> dict:
    schema = {
        "type": "object",
        "properties": {name: _schema(s) for name, s in sorted(properties.items())},
    }
    required = sorted(name for name, s in properties.items() if not s.optional)
    if required:
        schema["required"] = required
    return schema


def _sample(name: str, shape: Shape):
    if shape.kind == "object":
        return {key: _sample(key, s) for key, s in sorted(shape.properties.items())}
    if shape.kind == "array":
        return [_sample(name, shape.items or Shape())]
    if shape.kind == "number":
        return 100
    if shape.kind == "date":
        return "2025-07-15"
    return f"Example {name.replace('_', ' ')}"


def template_sources(template: Template) -> list[tuple[str, str]]:
    """Return (field, source) of every templated field of the latest version."""
    version = selectors.version_latest(template)
    if version is None:
        return []
    return [
        (name, source)
        for _channel, _language, name, source in rendering.iter_sources(
            version.contents.all()
        )
        if source
    ]


@dataclass
class SchemaCheck:
    """How the schema and the content agree, by top-level name."""

    undeclared: list[str]
    unused: list[str]


def schema_check(template: Template) -> SchemaCheck:
    """Return the names the content reads but the schema lacks, and the reverse."""
    used = set(shapes_used(template_sources(template)))
    declared = set((template.data_schema or {}).get("properties", {}))
    return SchemaCheck(sorted(used - declared), sorted(declared - used))


def schema_drafted(
    template: Template, sources: list[tuple[str, str]] | None = None
) -> tuple[dict, dict]:
    """Return the template's schema and sample data with what the content adds.

    The content is `sources` (field, source) when given — what the author has
    typed — else that of the template's latest version.
    """
    shapes = shapes_used(template_sources(template) if sources is None else sources)
    schema = copy.deepcopy(template.data_schema or {})
    sample = copy.deepcopy(template.sample_data or {})
    schema.setdefault("type", "object")
    properties = schema.setdefault("properties", {})
    drafted = _object_schema(shapes)
    required = list(schema.get("required", []))
    for name, property_schema in drafted["properties"].items():
        if name in properties:
            continue
        properties[name] = property_schema
        if name in drafted.get("required", []) and name not in required:
            required.append(name)
        if isinstance(sample, dict) and name not in sample:
            sample[name] = _sample(name, shapes[name])
    if required:
        schema["required"] = required
    return schema, sample


def template_schema_draft(
    *,
    template: Template,
    actor: AbstractBaseUser,
    sources: list[tuple[str, str]] | None = None,
) -> list[str]:
    """Add what the content uses to the template's schema and sample; return names.

    Saved (and audited) through `template_save`, like any change of the
    schema: it reaches customers only with a version approved with it.
    """
    schema, sample = schema_drafted(template, sources)
    added = sorted(
        set(schema.get("properties", {}))
        - set((template.data_schema or {}).get("properties", {}))
    )
    if added:
        template.data_schema, template.sample_data = schema, sample
        template_save(template=template, actor=actor)
    return added
