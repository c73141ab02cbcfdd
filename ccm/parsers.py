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

from ccm.jsonvalues import MAX_DEPTH, json_problem


class _Refused(ValueError):
    pass


def _refuse_constant(name: str):
    raise _Refused(f"{name} is not a finite number; JSON numbers must be finite")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused(f"{text} is not a finite number; JSON numbers must be finite")
    return number


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
