"""Hostile templates are refused at validation or render harmlessly, in bounded time."""

import os
import time

import pytest
from django.conf import settings

from templates_app import render_limits, rendering
from templates_app.rendering import RenderError

DATA = {"name": "Huda", "items": [1, 2, 3], "user": {"name": "Huda", "id": 7}}

HOSTILE = [
    # Attribute escapes to Python internals.
    "{{ ''.__class__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ name.__class__.__base__.__subclasses__() }}",
    "{{ items.__class__.__mro__ }}",
    "{{ user.__init__.__globals__ }}",
    "{{ ''['__class__'] }}",
    "{{ name['__class__']['__mro__'] }}",
    "{{ user|attr('__class__') }}",
    "{{ (name|string).__class__ }}",
    "{{ name.upper.__self__ }}",
    "{{ name.upper.__globals__ }}",
    "{{ items.append }}",
    "{{ items.pop() }}",
    "{{ user.update({'a': 1}) }}",
    "{{ user.items.__self__ }}",
    "{% set x = ''.__class__ %}{{ x }}",
    "{{ loop.__class__ }}",
    "{% for i in items %}{{ loop.__init__.__globals__ }}{% endfor %}",
    "{% for i in items %}{{ loop._iterator }}{% endfor %}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ range.__self__ }}",
    "{{ block.__globals__ }}",
    "{{ block.func_globals }}",
    "{{ self }}",
    "{{ self.__dict__ }}",
    "{{ self._TemplateReference__context }}",
    # Settings, environment, request-ish names.
    "{{ config }}",
    "{{ config.SECRET_KEY }}",
    "{{ settings.SECRET_KEY }}",
    "{{ request.environ }}",
    "{{ os.environ }}",
    "{{ environ['HOME'] }}",
    "{{ __builtins__ }}",
    "{{ import('os') }}",
    "{{ dict(a=1) }}",
    "{{ getattr(name, 'upper') }}",
    # Format-string attacks.
    "{{ '{}'.format(user) }}",
    "{{ '{0.__class__}'.format(name) }}",
    "{{ '{0:>999999999}'.format(1) }}",
    "{{ name.format_map(user) }}",
    "{{ '%s' % name }}",
    "{{ '%999999999d' % 1 }}",
    "{{ name|format(1) }}",
    "{{ '{x.__class__}'|format(x=name) }}",
    # Files through the template language.
    "{% include '/etc/passwd' %}",
    "{% include 'file:///etc/passwd' %}",
    "{% import 'os' as os %}{{ os }}",
    "{% from '/etc/passwd' import root %}{{ root }}",
    "{% extends '/etc/passwd' %}",
    "{% extends 'admin/base.html' %}",
    "{% block x %}{{ self }}{% endblock %}",
    # Unbounded work and memory.
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% for a in range(100000000) %}x{% endfor %}",
    "{{ range(10000)|list }}",
    "{{ 'x' * 1000000000 }}",
    "{{ [0] * 1000000000 }}",
    "{{ 9 ** 9 ** 9 }}",
    "{{ 2 ** 10000000 }}",
    "{% set a = 'xxxxxxxxxx' %}" + "{% set a = a ~ a %}" * 40 + "{{ a }}",
    "{% set a = 'xxxxxxxxxx' %}" + "{% set a = a + a %}" * 40 + "{{ a }}",
    "{% set a = [1, 2] %}" + "{% set a = a + a %}" * 40 + "{{ a|length }}",
    "{% set n = 10 %}" + "{% set n = n * n %}" * 30 + "{{ n }}",
    "{{ 'x'|center(1000000000) }}",
    "{{ 'x'.ljust(1000000000) }}",
    "{{ name|indent(1000000000) }}",
    "{{ range(10000)|join('" + "y" * 1000 + "') }}",
    "{{ lipsum(1000000) }}",
    "{{ name|wordwrap(1) * 100 }}",
    "{% for i in range(10000) %}{{ '" + "z" * 500 + "' }}{% endfor %}",
    # Recursion.
    "{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}",
    "{% macro f() %}{% for i in range(100) %}{{ f() }}{% endfor %}{% endmacro %}"
    "{{ f() }}",
    "{% for i in [[[1]]] recursive %}{{ loop([[[i]]]) }}{% endfor %}",
    "{% macro g() %}{{ caller() }}{% endmacro %}"
    "{% call g() %}{% call g() %}{% call g() %}x{% endcall %}{% endcall %}{% endcall %}"
    + "{% macro h() %}{% call g() %}{{ h() }}{% endcall %}{% endmacro %}{{ h() }}",
    "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
    "{% if 1 %}" * 3000 + "x" + "{% endif %}" * 3000,
    # Oversized source.
    "x" * 200_000,
    "{{ name }}" * 20_000,
    # Cycler, joiner and namespace tricks.
    "{% set c = cycler(1, 2) %}{{ c.next.__self__ }}",
    "{% set ns = namespace(x=1) %}{% set ns.__class__ = 1 %}{{ ns }}",
    "{% set j = joiner(',') %}{{ j.__call__.__globals__ }}",
    # Blocks used as a channel to files or recursion.
    "{{ block('../../etc/passwd') }}",
    "{{ block(name) }}",
    "{{ block('x', 'y') }}",
]


def _leaks(output: str, source: str = "") -> list[str]:
    """Return internals found in output that the author did not write themselves."""
    markers = [
        "<class",
        "<function",
        "<module",
        "<built-in",
        "<bound method",
        "TemplateReference",
        "root:x:0:0",
        settings.SECRET_KEY,
        os.environ.get("HOME", "/root"),
        "jinja2",
        "uid=",
    ]
    return [m for m in markers if m and m in output and m not in source]


def test_corpus_is_large_enough():
    assert len(HOSTILE) >= 50


@pytest.mark.parametrize("html", [True, False], ids=["html", "text"])
@pytest.mark.parametrize("source", HOSTILE, ids=lambda s: s[:60])
def test_hostile_template_is_refused_or_harmless(source, html):
    started = time.monotonic()
    try:
        rendering.parse(source, html=html)
        output = rendering.render_source(source, DATA, html=html, language="en")
    except RenderError as exc:
        # Refusals name what went wrong and never echo internals.
        assert exc.message
        assert not _leaks(str(exc), source)
    else:
        assert not _leaks(output, source), output[:300]
        assert len(output) <= render_limits.DEFAULT_MAX_OUTPUT_BYTES
    assert time.monotonic() - started < 5


def test_data_is_copied_so_templates_cannot_change_it():
    data = {"items": [1, 2], "user": {"name": "Huda"}}
    for source in ("{{ items.append(3) }}", "{% set x = user.update({'a': 1}) %}"):
        with pytest.raises(RenderError):
            rendering.render_source(source, data, html=False, language="en")
    assert data == {"items": [1, 2], "user": {"name": "Huda"}}


def test_render_refuses_non_json_data():
    class Secret:
        password = "hunter2"

    with pytest.raises(rendering.DataError):
        rendering.render_source("{{ s }}", {"s": Secret()}, html=False, language="en")


def test_include_is_refused_with_its_line():
    with pytest.raises(rendering.TemplateSourceError) as caught:
        rendering.parse("line one\n{% include '/etc/passwd' %}", html=True)
    assert caught.value.line == 2
    assert "include" in caught.value.message


def test_time_limit_stops_a_slow_render(settings):
    settings.TEMPLATE_RENDER_SECONDS = 0.2
    settings.TEMPLATE_MAX_STEPS = 10**9
    source = (
        "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}"
    )
    started = time.monotonic()
    with pytest.raises(rendering.RenderLimitError, match="too long"):
        rendering.render_source(source, {}, html=False, language="en")
    assert time.monotonic() - started < 1.5


def test_output_limit_is_enforced(settings):
    settings.TEMPLATE_MAX_OUTPUT_BYTES = 1000
    with pytest.raises(rendering.RenderLimitError):
        rendering.render_source(
            "{% for i in range(200) %}0123456789{% endfor %}",
            {},
            html=False,
            language="en",
        )
