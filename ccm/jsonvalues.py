"""What a JSON value may hold to be stored: finite numbers, real text, bounded depth.

PostgreSQL refuses NaN and infinities in jsonb, NUL characters and lone
surrogates in text; deep nesting overflows the stack of whatever walks it.
"""

import math

from django.utils.translation import gettext as _

MAX_DEPTH = 64


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return _("contains a NUL character (\\u0000)")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _("contains a lone surrogate (\\ud800-\\udfff), which is not text")
    return None


def json_problem(value) -> str | None:
    """Return what in a parsed JSON value cannot be stored, naming its path."""
    stack = [(value, (), 1)]
    while stack:
        node, path, depth = stack.pop()
        where = "/" + "/".join(str(part) for part in path)
        if isinstance(node, dict | list):
            if depth > MAX_DEPTH:
                return _("the JSON is nested more than %(limit)s levels deep") % {
                    "limit": MAX_DEPTH
                }
            if isinstance(node, dict):
                for key, item in node.items():
                    if problem := _text_problem(key):
                        return _("a key at %(path)s %(problem)s") % {
                            "path": where,
                            "problem": problem,
                        }
                    stack.append((item, (*path, key), depth + 1))
            else:
                stack.extend(
                    (item, (*path, index), depth + 1) for index, item in enumerate(node)
                )
        elif isinstance(node, str) and (problem := _text_problem(node)):
            return _("the text at %(path)s %(problem)s") % {
                "path": where,
                "problem": problem,
            }
        elif isinstance(node, float) and not math.isfinite(node):
            return _("the number at %(path)s is not finite") % {"path": where}
    return None
