"""The API's JSON parsers: refuse what JSON or the database cannot hold, as a 400.

Python's json module accepts NaN, Infinity and 1e999 (read as infinity), lone
surrogates and NUL characters, and nests until the interpreter's recursion
limit; PostgreSQL refuses the first three in jsonb and text, and deep nesting
overflows the stack later. Each is a ParseError naming the problem and where.

A body larger than Django's `DATA_UPLOAD_MAX_MEMORY_SIZE` is a 413
(`api.body.too_large`, ccm.api_errors). An endpoint that takes larger bodies
(a batch of 100,000 rows) uses `BoundedJSONParser`, which reads the stream
itself up to its own limit and accepts a gzip-compressed body
(`Content-Encoding: gzip`), its unpacked size bounded by the same limit.
"""

import codecs
import json
import math
import zlib

from django.conf import settings
from django.utils.translation import gettext as _
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser, JSONParser

from ccm.api_errors import BodyTooLarge
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


def strict_json_loads(text: str):
    """Return the parsed JSON, or raise ParseError naming what cannot be stored."""
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float
        )
    except RecursionError:
        raise ParseError(
            f"JSON parse error - the JSON is nested more than {MAX_DEPTH} levels deep"
        ) from None
    except ValueError as exc:
        raise ParseError(f"JSON parse error - {exc}") from None
    if problem := json_problem(value):
        raise ParseError(f"JSON parse error - {problem}")
    return value


class StrictJSONParser(JSONParser):
    """JSON bodies, refused with a 400 when they hold what cannot be stored."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = codecs.getreader(encoding)(stream).read()
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return strict_json_loads(text)


def _gunzip(raw: bytes, limit: int) -> bytes:
    """Return a gzip body unpacked, refusing more than `limit` bytes unpacked."""
    unpacker = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        unpacked = unpacker.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise ParseError(
            _("The body is not valid gzip: %(error)s") % {"error": exc}
        ) from None
    if len(unpacked) > limit or unpacker.unconsumed_tail:
        raise BodyTooLarge(limit=limit, unpacked=True)
    if not unpacker.eof:
        raise ParseError(_("The body is not valid gzip: it is cut short"))
    return unpacked


class BoundedJSONParser(BaseParser):
    """Strict JSON up to the byte limit named by `limit_setting`, gzip accepted.

    Not a JSONParser subclass on purpose: DRF reads `request.body` (bounded by
    DATA_UPLOAD_MAX_MEMORY_SIZE) for those, and hands this one the stream.
    """

    media_type = "application/json"
    limit_setting = "DATA_UPLOAD_MAX_MEMORY_SIZE"

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        limit = getattr(settings, self.limit_setting)
        request = context.get("request")
        meta = request.META if request is not None else {}
        coding = meta.get("HTTP_CONTENT_ENCODING", "identity").strip().lower()
        if coding not in {"identity", "gzip"}:
            raise UnsupportedMediaType(
                f"{media_type}; Content-Encoding: {coding}",
                detail=_(
                    "Content-Encoding %(coding)s is not accepted; send gzip or "
                    "no encoding"
                )
                % {"coding": coding},
            )
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > limit:
            raise BodyTooLarge(limit=limit)
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise BodyTooLarge(limit=limit)
        if coding == "gzip":
            raw = _gunzip(raw, limit)
        try:
            text = raw.decode(context.get("encoding", settings.DEFAULT_CHARSET))
        except (UnicodeDecodeError, LookupError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        return strict_json_loads(text)
