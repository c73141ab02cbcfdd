"""The API's JSON parser: refuse what JSON or the database cannot hold, as a 400.

Python's json module accepts NaN, Infinity and 1e999 (read as infinity), lone
surrogates and NUL characters, and nests until the interpreter's recursion
limit; PostgreSQL refuses the first three in jsonb and text, and deep nesting
overflows the stack later. Each is a ParseError naming the problem and where.
"""

import codecs
import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64


class _Refused(ValueError):
    pass


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not a finite number; JSON numbers must be finite")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"{text} is not a finite number; JSON numbers must be finite")
    return number


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (\\ud800-\\udfff), which is not text"
    return None


def json_problem(value) -> str | None:
    """Return what in a parsed JSON value cannot be stored, naming its path."""
    stack = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        where = "/" + "/".join(str(part) for part in path)
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return f"the JSON is nested more than {MAX_DEPTH} levels deep"
            if isinstance(node, dict):
                for key, item in node.items():
                    if problem := _text_problem(key):
                        return f"a key at {where} {problem}"
                    stack.append((item, (*path, key), depth + 1))
            else:
                stack.extend(
                    (item, (*path, index), depth + 1) for index, item in enumerate(node)
                )
        elif isinstance(node, str) and (problem := _text_problem(node)):
            return f"the text at {where} {problem}"
    return None


class StrictJSONParser(JSONParser):
    """JSON bodies, refused with a 400 when they hold what cannot be stored."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
            value = json.loads(
                text, parse_constant=_refuse_constant, parse_float=_finite_float
            )
        except RecursionError:
            raise ParseError(
                f"JSON parse error - the JSON is nested more than {MAX_DEPTH}"
                " levels deep"
            ) from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        if problem := json_problem(value):
            raise ParseError(f"JSON parse error - {problem}")
        return value
