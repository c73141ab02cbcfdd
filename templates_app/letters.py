"""PDF letters through WeasyPrint: A4, right to left for Arabic, no outside reads.

The font configuration, image cache and URL fetcher are built once per process
and shared: building them per letter costs tens of milliseconds, and one
restricted fetcher is the only way anything outside the document is read.

A letter is bounded in pages and in render time, per category: WeasyPrint
reports each page it starts to lay out on its progress logger, and a filter
there refuses the page past the limit, before it is laid out.
"""

import contextvars
import functools
import logging
import mimetypes
import posixpath
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils.html import escape
from django.utils.translation import gettext as _
from weasyprint import CSS, HTML, Attachment
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher, URLFetcherResponse

from templates_app.render_limits import RenderLimitError

# Relative URLs in letters resolve against this origin; only its static path
# is served, from the product's own static files.
LETTER_ORIGIN = "https://letter.invalid"

ARABIC_FONTS = '"Amiri", "Noto Naskh Arabic", "Noto Sans Arabic"'
LATIN_FONTS = '"Noto Serif", "DejaVu Serif"'

BASE_CSS = """
@page { size: A4; margin: 22mm 20mm 25mm 20mm;
        @bottom-center { content: counter(page) " / " counter(pages);
                         font-size: 8pt; color: #666; } }
html { font-size: 11pt; line-height: 1.5; }
body { margin: 0; }
html[dir="rtl"] body { font-family: ARABIC, LATIN; text-align: right; }
html[dir="ltr"] body { font-family: LATIN, ARABIC; text-align: left; }
img { max-width: 100%; }
table { border-collapse: collapse; }
""".replace("ARABIC", ARABIC_FONTS).replace("LATIN", LATIN_FONTS)


DEFAULT_LETTER_MAX_PAGES = 20
DEFAULT_LETTER_RENDER_SECONDS = 30.0
# Parsing and styling take time per element before the first page is laid
# out, so a body may hold at most this many tags per allowed page.
ELEMENTS_PER_PAGE = 250
_OPENING_TAG = re.compile(r"<[A-Za-z]")


class FetchRefused(ValueError):
    """A letter asked for a resource outside data: URIs and static files."""


class LetterLimitError(RenderLimitError):
    """A letter went over its category's page or render-time limit."""


@dataclass(frozen=True)
class LetterLimits:
    """How many pages, and how many seconds of rendering, one letter may take."""

    pages: int = DEFAULT_LETTER_MAX_PAGES
    seconds: float = DEFAULT_LETTER_RENDER_SECONDS
    category: str = ""


# The product's own documents (evidence packs, data-subject exports) are
# written from stored records, not from an author's template: they may run
# long for a customer with years of messages.
RECORD_LIMITS = LetterLimits(pages=5000, seconds=600, category="records")


def letter_limits(category: str | None = None) -> LetterLimits:
    """Return a category's letter limits: its entry in LETTER_LIMITS, else defaults.

    `LETTER_LIMITS = {"collections": {"pages": 40, "seconds": 60}}` raises them
    for one category; `LETTER_MAX_PAGES` and `LETTER_RENDER_SECONDS` are the
    defaults for every other.
    """
    own = getattr(settings, "LETTER_LIMITS", {}).get(category or "", {})
    return LetterLimits(
        pages=int(
            own.get(
                "pages", getattr(settings, "LETTER_MAX_PAGES", DEFAULT_LETTER_MAX_PAGES)
            )
        ),
        seconds=float(
            own.get(
                "seconds",
                getattr(
                    settings, "LETTER_RENDER_SECONDS", DEFAULT_LETTER_RENDER_SECONDS
                ),
            )
        ),
        category=category or "",
    )


@dataclass
class _LetterBudget:
    limits: LetterLimits
    deadline: float


_letter_budget: contextvars.ContextVar[_LetterBudget | None] = contextvars.ContextVar(
    "letter_budget", default=None
)


def _place(limits: LetterLimits) -> str:
    return (
        _("for category %(category)s") % {"category": limits.category}
        if limits.category
        else _("for letters")
    )


class _LetterGuard(logging.Filter):
    """Refuse the page past the limit, and any step past the deadline."""

    def filter(self, record: logging.LogRecord) -> bool:
        budget = _letter_budget.get()
        if budget is None:
            return False
        limits = budget.limits
        if time.monotonic() > budget.deadline:
            raise LetterLimitError(
                _(
                    "The letter took over %(seconds)s s to render, the limit"
                    " %(place)s (LETTER_RENDER_SECONDS)."
                )
                % {"seconds": limits.seconds, "place": _place(limits)}
            )
        page = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        if str(record.msg).startswith("Step 5") and int(page) > limits.pages:
            raise LetterLimitError(
                _(
                    "The letter is longer than %(pages)s pages, the limit %(place)s"
                    " (LETTER_MAX_PAGES)."
                )
                % {"pages": limits.pages, "place": _place(limits)}
            )
        # Page-by-page progress is not worth a log line.
        return False


_GUARD = _LetterGuard()


def _guard_install() -> None:
    progress = logging.getLogger("weasyprint.progress")
    if _GUARD not in progress.filters:
        progress.addFilter(_GUARD)
    # The guard sees only records the logger is enabled for.
    progress.setLevel(logging.INFO)
    progress.disabled = False


_refused: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "letter_refused_urls", default=None
)


class RestrictedFetcher(URLFetcher):
    """Fetch only data: URIs and the product's own static files; never redirect."""

    def __init__(self):
        super().__init__(
            allowed_protocols={"data"}, allow_redirects=False, fail_on_errors=False
        )

    def _refuse(self, url: str, reason: str):
        refused = _refused.get()
        if refused is not None:
            refused.append(url)
        raise FetchRefused(f"{reason}: {url[:200]}")

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        static_prefix = f"{LETTER_ORIGIN}/{settings.STATIC_URL.strip('/')}/"
        if not url.startswith(static_prefix):
            self._refuse(url, "only data: URIs and static files may be used")
        parts = urlsplit(url)
        relative = unquote(parts.path)[len(urlsplit(static_prefix).path) :]
        normalised = posixpath.normpath(relative)
        if (
            normalised.startswith(("/", ".."))
            or "\\" in normalised
            or "\x00" in normalised
        ):
            self._refuse(url, "static path escapes the static root")
        path = finders.find(normalised)
        if not path:
            self._refuse(url, "no such static file")
        with open(path, "rb") as handle:
            body = handle.read()
        mime = mimetypes.guess_type(normalised)[0] or "application/octet-stream"
        return URLFetcherResponse(url, body, {"Content-Type": mime})


_lock = threading.Lock()
_shared: dict = {}


def _resources():
    """Return the process-wide font configuration, fetcher, cache and base CSS."""
    with _lock:
        if not _shared:
            font_config = FontConfiguration()
            fetcher = RestrictedFetcher()
            _shared.update(
                font_config=font_config,
                fetcher=fetcher,
                cache={},
                base_css=CSS(
                    string=BASE_CSS, font_config=font_config, url_fetcher=fetcher
                ),
            )
        return _shared


@functools.lru_cache(maxsize=64)
def _stylesheet(css: str) -> tuple[CSS, tuple[str, ...]]:
    """Return a letter's own CSS parsed once per process, with the URLs refused.

    A parsed stylesheet is only read by later renders, and its @font-face
    rules went into the shared font configuration when it was parsed; the
    URLs refused while parsing (an @import, a font) are kept with it, so
    every letter using it reports them, as if parsed again.
    """
    shared = _resources()
    refused: list[str] = []
    token = _refused.set(refused)
    try:
        sheet = CSS(
            string=css,
            base_url=f"{LETTER_ORIGIN}/",
            font_config=shared["font_config"],
            url_fetcher=shared["fetcher"],
        )
    finally:
        _refused.reset(token)
    return sheet, tuple(refused)


@dataclass
class Letter:
    """A rendered PDF letter and the URLs its fetcher refused."""

    pdf: bytes
    pages: int
    refused_urls: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EmbeddedFile:
    """A file carried inside a PDF, listed in the viewer's attachments."""

    name: str
    content: bytes
    description: str = ""
    created: datetime | None = None


def _attachment(embedded: EmbeddedFile, fetcher: URLFetcher) -> Attachment:
    # PDF dates are written as UTC; an undated file keeps WeasyPrint's "now".
    when = embedded.created.astimezone(UTC) if embedded.created else None
    return Attachment(
        string=embedded.content,
        name=embedded.name,
        description=embedded.description or None,
        created=when,
        modified=when,
        url_fetcher=fetcher,
    )


def letter_document(body_html: str, *, language: str, title: str = "") -> str:
    """Wrap rendered letter HTML in a document with language and direction."""
    direction = "rtl" if language == "ar" else "ltr"
    return (
        f'<!DOCTYPE html><html lang="{language}" dir="{direction}"><head>'
        f'<meta charset="utf-8"><title>{escape(title)}</title></head>'
        f"<body>{body_html}</body></html>"
    )


def letter_pdf(
    body_html: str,
    *,
    language: str,
    css: str = "",
    title: str = "",
    attachments: Sequence[EmbeddedFile] = (),
    limits: LetterLimits | None = None,
) -> Letter:
    """Render a letter body (already rendered from its template) to an A4 PDF.

    Raise LetterLimitError past the limits (the category's, or the defaults).
    """
    shared = _resources()
    limits = limits or letter_limits()
    elements = len(_OPENING_TAG.findall(body_html))
    if elements > limits.pages * ELEMENTS_PER_PAGE:
        raise LetterLimitError(
            _(
                "The letter has %(elements)s HTML tags; a letter of at most"
                " %(pages)s pages, the limit %(place)s (LETTER_MAX_PAGES), may"
                " have %(most)s."
            )
            % {
                "elements": elements,
                "pages": limits.pages,
                "place": _place(limits),
                "most": limits.pages * ELEMENTS_PER_PAGE,
            }
        )
    _guard_install()
    refused: list[str] = []
    token = _refused.set(refused)
    budget_token = _letter_budget.set(
        _LetterBudget(limits=limits, deadline=time.monotonic() + limits.seconds)
    )
    try:
        stylesheets = [shared["base_css"]]
        if css.strip():
            sheet, sheet_refused = _stylesheet(css)
            stylesheets.append(sheet)
            refused.extend(sheet_refused)
        document = HTML(
            string=letter_document(body_html, language=language, title=title),
            base_url=f"{LETTER_ORIGIN}/",
            url_fetcher=shared["fetcher"],
        ).render(
            stylesheets=stylesheets,
            font_config=shared["font_config"],
            cache=shared["cache"],
        )
        files = [_attachment(embedded, shared["fetcher"]) for embedded in attachments]
        pdf = document.write_pdf(attachments=files or None)
    finally:
        _letter_budget.reset(budget_token)
        _refused.reset(token)
    return Letter(pdf=pdf, pages=len(document.pages), refused_urls=refused)


def warm() -> None:
    """Build the shared resources and lay out one page, so the first letter is fast."""
    letter_pdf("<p>ok</p>", language="en")
