"""Bounded differences for reviewers: capped input, computed once, cut where said.

difflib's costs grow with the product of the two sides, and HtmlDiff's in-line
marks far faster still (100 changed lines took 3.6 s, 1,000 took 49 s). So:

- each side is cut to `TEMPLATES_DIFF_MAX_LINES` lines and
  `TEMPLATES_DIFF_MAX_CHARACTERS` characters before anything is compared, and
  the page says where each side was cut;
- the side-by-side table with in-line marks is drawn only while the lines it
  would pair up stay within `TEMPLATES_DIFF_MAX_COMPARISONS`; past that the
  same lines are shown as a unified diff (whole lines removed and added);
- the word diff aligns lines first and marks words only inside changed
  paragraphs whose words, multiplied, fit the same budget; a larger paragraph
  is shown whole as removed and added.

Limits are read from settings at call time (see docs/templates.md, Limits).
"""

import difflib
import re
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

DEFAULTS = {
    "TEMPLATES_DIFF_MAX_LINES": 1_000,
    "TEMPLATES_DIFF_MAX_CHARACTERS": 100_000,
    "TEMPLATES_DIFF_MAX_COMPARISONS": 1_000_000,
}
# HtmlDiff pairs lines of a changed block by similarity; past this a line is
# compared character by character at a cost no budget below models well.
SIDE_BY_SIDE_MAX_LINE = 1_000
_TOKENS = re.compile(r"\s+|[^\s]+")


def limit(name: str) -> int:
    """Return a diff limit: the setting of that name, or its default."""
    return getattr(settings, name, DEFAULTS[name])


@dataclass(frozen=True)
class Side:
    """One side of a comparison: the lines compared, and where it was cut."""

    lines: list[str]
    note: str = ""


def side(text: str, *, label: str, keepends: bool = False) -> Side:
    """Return the lines of `text` that are compared, cut to the limits."""
    max_lines = limit("TEMPLATES_DIFF_MAX_LINES")
    max_characters = limit("TEMPLATES_DIFF_MAX_CHARACTERS")
    lines = text.splitlines(keepends=keepends)
    kept: list[str] = []
    used = 0
    for line in lines[:max_lines]:
        if used + len(line) > max_characters:
            kept.append(line[: max_characters - used])
            break
        kept.append(line)
        used += len(line)
    whole = len(kept) == len(lines) and (not kept or kept[-1] == lines[-1])
    if whole:
        return Side(kept)
    note = _(
        "%(label)s is cut at line %(line)s of %(total)s: at most %(lines)s lines"
        " and %(characters)s characters are compared; the rest is not shown."
    ) % {
        "label": label,
        "line": len(kept),
        "total": len(lines),
        "lines": max_lines,
        "characters": max_characters,
    }
    return Side(kept, note)


@dataclass(frozen=True)
class Difference:
    """A bounded difference as HTML, with what the reader should know about it."""

    html: SafeString
    notes: list[str] = field(default_factory=list)


def _side_by_side_cost(old: list[str], new: list[str]) -> int | None:
    """Return what HtmlDiff's pairing of changed lines costs (None: too long)."""
    if any(len(line) > SIDE_BY_SIDE_MAX_LINE for line in (*old, *new)):
        return None
    # The same line matching ndiff does (autojunk on), so the same blocks.
    matcher = difflib.SequenceMatcher(None, old, new)
    cost = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "replace":
            continue
        removed, added = i2 - i1, j2 - j1
        width = sum(map(len, old[i1:i2])) + sum(map(len, new[j1:j2]))
        # Every pair scored, re-scored around each best pair, by line length.
        cost += removed * added * min(removed, added) * (width // (removed + added))
    return cost


def _unified(old: list[str], new: list[str], fromdesc: str, todesc: str) -> str:
    rows = []
    for line in difflib.unified_diff(old, new, fromdesc, todesc, n=3, lineterm=""):
        if line.startswith(("+++", "---")):
            kind = "diff_header"
        else:
            kind = {"+": "diff_add", "-": "diff_sub", "@": "diff_chg"}.get(line[:1])
        rows.append(
            f'<span class="{kind}">{escape(line)}</span>' if kind else escape(line)
        )
    return '<pre class="tpl-unified-diff">' + "\n".join(rows) + "</pre>"


def source_diff(before: str, after: str, *, fromdesc: str, todesc: str) -> Difference:
    """Return a side-by-side diff of two sources, bounded in input and work."""
    old = side(before, label=fromdesc)
    new = side(after, label=todesc)
    notes = [note for note in (old.note, new.note) if note]
    cost = _side_by_side_cost(old.lines, new.lines)
    if cost is not None and cost <= limit("TEMPLATES_DIFF_MAX_COMPARISONS"):
        table = difflib.HtmlDiff(tabsize=2, wrapcolumn=70).make_table(
            old.lines,
            new.lines,
            fromdesc=fromdesc,
            todesc=todesc,
            context=True,
            numlines=3,
        )
        return Difference(mark_safe(table), notes)  # noqa: S308 (HtmlDiff escapes)
    notes.append(
        _(
            "Too much changed to pair the lines side by side: the changes are"
            " shown as whole lines removed (-) and added (+)."
        )
    )
    html = _unified(old.lines, new.lines, fromdesc, todesc)
    return Difference(mark_safe(html), notes)  # noqa: S308 (escaped line by line)


def _marked(old: list[str], new: list[str], out: list[str], budget: list[int]) -> bool:
    """Mark the words of one changed paragraph; False when over the budget."""
    if len(old) * len(new) > budget[0]:
        removed, added = "".join(old), "".join(new)
        if removed:
            out.append(f"<del>{escape(removed)}</del>")
        if added:
            out.append(f"<ins>{escape(added)}</ins>")
        return False
    budget[0] -= len(old) * len(new)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        removed, added = "".join(old[i1:i2]), "".join(new[j1:j2])
        if op == "equal":
            out.append(escape(added))
            continue
        if removed:
            out.append(f"<del>{escape(removed)}</del>")
        if added:
            out.append(f"<ins>{escape(added)}</ins>")
    return True


def word_difference(
    before: str, after: str, *, fromdesc: str = "", todesc: str = ""
) -> Difference:
    """Return `after` as HTML with the words removed and added since `before`."""
    old = side(before, label=fromdesc or _("The earlier text"), keepends=True)
    new = side(after, label=todesc or _("The new text"), keepends=True)
    notes = [note for note in (old.note, new.note) if note]
    budget = [limit("TEMPLATES_DIFF_MAX_COMPARISONS")]
    out: list[str] = []
    whole = True
    matcher = difflib.SequenceMatcher(None, old.lines, new.lines, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append(escape("".join(new.lines[j1:j2])))
            continue
        removed = _TOKENS.findall("".join(old.lines[i1:i2]))
        added = _TOKENS.findall("".join(new.lines[j1:j2]))
        whole = _marked(removed, added, out, budget) and whole
    if not whole:
        notes.append(
            _(
                "Too much changed to compare every paragraph word by word: the"
                " longest changes are shown whole as removed and added."
            )
        )
    return Difference(mark_safe("".join(out)), notes)  # noqa: S308 (escaped)
