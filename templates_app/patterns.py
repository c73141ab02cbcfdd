"""Recognise regular expressions whose backtracking grows without bound.

A data schema's `pattern` runs on every trigger; a pattern such as `(a+)+`
takes exponential time on a short non-matching string. The shapes refused are a
repeat whose body holds a variable-length repeat, and a repeat whose body
chooses between alternatives that can start with the same character.
"""

import re
from re import _constants as sre
from re import _parser

REPEATS = (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT)
# A set of characters as (low, high) code point ranges; None means any.
CharSet = list[tuple[int, int]] | None


def pattern_backtracks(pattern: str) -> bool:
    """Return whether the pattern has a catastrophic-backtracking shape."""
    try:
        parsed = _parser.parse(pattern)
    except (re.error, RecursionError, OverflowError):
        return False  # not a regex: the schema check names it
    return _risky(list(parsed), repeated=False)


def _children(op, av) -> list[list]:
    if op == sre.SUBPATTERN:
        return [list(av[3])]
    if op == sre.BRANCH:
        return [list(branch) for branch in av[1]]
    if op in (sre.ASSERT, sre.ASSERT_NOT):
        return [list(av[1])]
    if op == sre.ATOMIC_GROUP:
        return [list(av)]
    if op == sre.GROUPREF_EXISTS:
        return [list(part) for part in av[1:] if part is not None]
    return []


def _risky(items: list, *, repeated: bool) -> bool:
    for op, av in items:
        if op in REPEATS:
            low, high, body = av
            if repeated and low != high:
                return True
            if _risky(list(body), repeated=repeated or high > 1):
                return True
            continue
        if op == sre.BRANCH and repeated and _overlapping(av[1]):
            return True
        if any(_risky(child, repeated=repeated) for child in _children(op, av)):
            return True
    return False


def _first(items: list) -> CharSet:
    """Return the characters a sequence can start with (None when unknown)."""
    if not items:
        return None
    op, av = items[0]
    if op == sre.LITERAL:
        return [(av, av)]
    if op == sre.SUBPATTERN:
        return _first(list(av[3]))
    if op == sre.IN:
        ranges = []
        for kind, value in av:
            if kind == sre.LITERAL:
                ranges.append((value, value))
            elif kind == sre.RANGE:
                ranges.append(value)
            else:
                return None
        return ranges
    if op in REPEATS and av[0] > 0:
        return _first(list(av[2]))
    return None


def _overlapping(branches) -> bool:
    firsts = [_first(list(branch)) for branch in branches]
    for index, one in enumerate(firsts):
        for other in firsts[index + 1 :]:
            if one is None or other is None:
                return True
            if any(a <= d and c <= b for a, b in one for c, d in other):
                return True
    return False
