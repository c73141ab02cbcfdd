"""Template text as the inventory compares it: no markup, no variable names.

A template source becomes a list of paragraphs (block-level HTML elements,
line breaks and blank lines separate them). Each paragraph has two forms: one
with every `{{ … }}` expression masked (what similarity compares, so renamed
variables do not count) and one with the expressions kept (what tells a
variables-only difference apart from an identical copy). Content blocks
included with `block("code")` stay visible as their code.
"""

import hashlib
import html
import re
from dataclasses import dataclass

BLOCK_CALL_RE = re.compile(r"""\{\{-?\s*block\(\s*["']([^"']+)["']\s*\)\s*-?\}\}""")
EXPRESSION_RE = re.compile(r"\{\{.*?\}\}", re.S)
STATEMENT_RE = re.compile(r"\{%.*?%\}|\{#.*?#\}", re.S)
BREAK_RE = re.compile(
    r"</?(?:p|div|li|ul|ol|h[1-6]|tr|table|header|footer|section|blockquote)\b[^>]*>"
    r"|<br\s*/?>",
    re.I,
)
TAG_RE = re.compile(r"<[^>]*>")
STYLE_RE = re.compile(r"<(style|script)\b.*?</\1>", re.S | re.I)
SPACE_RE = re.compile(r"\s+")
# Letters and digits of any script; the rest (punctuation) is dropped from keys.
WORD_RE = re.compile(r"\w+", re.U)
PARAGRAPH_RE = re.compile(r"<p\b[^>]*>.*?</p>", re.S | re.I)
BLANK_LINE_RE = re.compile(r"\n\s*\n")

VARIABLE = "⟨v⟩"
# Fewer words than this are not worth a content block (greetings, sign-offs).
PARAGRAPH_MIN_WORDS = 8


@dataclass(frozen=True)
class Paragraph:
    """One paragraph: masked for comparison, and with its variable names."""

    masked: str
    named: str


def _expressions_mark(source: str, *, keep_names: bool) -> str:
    source = BLOCK_CALL_RE.sub(lambda m: f" ⟨block {m.group(1)}⟩ ", source)
    if keep_names:
        return EXPRESSION_RE.sub(
            lambda m: " ⟨" + SPACE_RE.sub("", m.group(0)[2:-2]) + "⟩ ", source
        )
    return EXPRESSION_RE.sub(f" {VARIABLE} ", source)


def _paragraphs_of(source: str, *, lower: bool = True) -> list[str]:
    source = STATEMENT_RE.sub(" ", STYLE_RE.sub(" ", source))
    source = BREAK_RE.sub("\n\n", source)
    text = html.unescape(TAG_RE.sub(" ", source))
    chunks = [
        SPACE_RE.sub(" ", chunk).strip()
        for chunk in BLANK_LINE_RE.split(text)
        if chunk.strip()
    ]
    return [chunk.lower() for chunk in chunks] if lower else chunks


NAMED_EXPRESSION_RE = re.compile(r"⟨(?!block )[^⟩]*⟩")


def paragraphs(source: str) -> list[Paragraph]:
    """Return the paragraphs of a template or block source, masked and named."""
    return [
        Paragraph(NAMED_EXPRESSION_RE.sub(VARIABLE, named), named)
        for named in _paragraphs_of(_expressions_mark(source, keep_names=True))
    ]


MARK_RE = re.compile(r"⟨(block )?([^⟩]*)⟩")


def readable_paragraphs(source: str) -> list[str]:
    """Return the paragraphs `paragraphs` finds, as a reader sees them.

    Case is kept and expressions read as written (`{{ name }}`), so a
    comparison can show the text beside the paragraphs it compared.
    """
    return [
        MARK_RE.sub(
            lambda m: (
                '{{ block("' + m.group(2) + '") }}'
                if m.group(1)
                else "{{ " + m.group(2) + " }}"
            ),
            chunk,
        )
        for chunk in _paragraphs_of(
            _expressions_mark(source, keep_names=True), lower=False
        )
    ]


def words_key(named: str) -> str | None:
    """Return the key of a paragraph's named text, or None when it is too short."""
    words = WORD_RE.findall(named)
    if len(words) < PARAGRAPH_MIN_WORDS:
        return None
    return hashlib.blake2b(" ".join(words).encode(), digest_size=12).hexdigest()


def paragraph_key(text: str) -> str | None:
    """Return the key under which (nearly) identical paragraphs meet, or None.

    Case, punctuation and spacing do not count; variable names do, since one
    block serves only templates that name their data alike. A paragraph
    shorter than PARAGRAPH_MIN_WORDS has no key.
    """
    return words_key(" ".join(_paragraphs_of(_expressions_mark(text, keep_names=True))))


def raw_paragraphs(source: str, *, is_html: bool) -> list[str]:
    """Return the source's paragraphs as written: `<p>` elements, or text chunks."""
    if is_html:
        return PARAGRAPH_RE.findall(source)
    return [chunk for chunk in BLANK_LINE_RE.split(source) if chunk.strip()]


def plain(source: str) -> str:
    """Return a paragraph's source as plain text, its expressions kept."""
    return SPACE_RE.sub(" ", html.unescape(TAG_RE.sub(" ", source))).strip()
