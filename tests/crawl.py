"""Crawl the site as a signed-in user and find text a reader should not see.

Used by tests/ccm/test_i18n_crawl.py; runnable on its own against a seeded
database (`python -m tests.crawl agent ar`) to list what a crawl finds.
"""

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

# Where each role starts: the menus of the admin, the console and the dashboard.
START_PAGES = ["/admin/", "/agent/", "/ops/"]

# Links never followed: they change state, download files or leave the pages.
SKIPPED = re.compile(
    r"logout|/i18n/|\.pdf$|\.json$|\.csv$|/evidence|format=|/email\.html$|"
    r"/delete/|/history/\d|/jsi18n/|/api/|/static/|/media/|/p/|_export|"
    r"/password/|/unmask"
)
# At most this many pages of one shape (digits and query values folded).
PER_SHAPE = 2
MAX_PAGES = 160

DOTTED_CODE = re.compile(
    r"(?<![@/\w.])[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*){2,}(?![\w/@])"
)
# Not inside a word: "…dc049bf1c2a7:10" (an id and a counter) is no time.
TIME = re.compile(r"(?<![\w:])\d{1,2}:\d{2}(?::\d{2})?(?![\d:])")
# A zone named beside a time: an abbreviation or offset (+03, UTC, GMT, CET)
# or an IANA name (Asia/Riyadh).
ZONE = re.compile(
    r"(?:\s|\d:\d{2}(?::\d{2}(?:\.\d+)?)?)[+-]\d{2}(?::?\d{2})?(?![\d-])"
    r"|(?<!\w)(?:UTC|GMT|BST|W?ES?T|C?ES?T|EES?T|[ECMP][SD]T|IST)(?!\w)"
    r"|(?<!\w)[A-Z][a-z]+/[A-Z][A-Za-z_]+"
    r"|time zone|local|المنطقة الزمنية|المحلي|بتوقيت"
)
ARABIC = re.compile(r"[\u0600-\u06ff]")
# Elements whose text is not read as page text.
UNREAD = {"script", "style", "textarea", "option", "pre", "code"}
BLOCKS = {"td", "th", "li", "dd", "dt", "p", "div", "h1", "h2", "h3", "time", "span"}


@dataclass
class Finding:
    url: str
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.kind:<14} {self.url}  {self.text!r}"


class _Page(HTMLParser):
    """Collect a page's links and its text, each text with its enclosing block."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        # (text, block index, marked Arabic with lang="ar")
        self.texts: list[tuple[str, int, bool]] = []
        self.blocks: list[list[str]] = []
        self._stack: list[tuple[str, int | None, bool]] = []
        self._unread = 0

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)
        if tag in {"br", "img", "input", "meta", "link", "hr", "wbr"}:
            return
        block = None
        if tag in BLOCKS:
            self.blocks.append([])
            block = len(self.blocks) - 1
        attributes = dict(attrs)
        # Deliberately Arabic: marked lang="ar", or the admin's "name in Arabic".
        arabic = attributes.get("lang") == "ar" or "field-name_ar" in (
            attributes.get("class") or ""
        )
        self._stack.append((tag, block, arabic))
        if tag in UNREAD:
            self._unread += 1

    def handle_endtag(self, tag):
        for index in range(len(self._stack) - 1, -1, -1):
            if self._stack[index][0] == tag:
                for closed, _, _ in self._stack[index:]:
                    if closed in UNREAD:
                        self._unread -= 1
                del self._stack[index:]
                return

    def handle_data(self, data):
        text = " ".join(data.split())
        if not text or self._unread:
            return
        blocks = [block for _, block, _ in self._stack if block is not None]
        for block in blocks:
            self.blocks[block].append(text)
        marked = any(arabic for _, _, arabic in self._stack)
        self.texts.append((text, blocks[-1] if blocks else -1, marked))

    def block_text(self, index: int) -> str:
        return " ".join(self.blocks[index]) if index >= 0 else ""


def arabic_names() -> set[str]:
    """Return the Arabic display names of categories, templates and blocks."""
    from templates_app.models import Category, ContentBlock, Template

    names = set()
    for model in (Category, Template, ContentBlock):
        names.update(
            model.objects.exclude(name_ar="").values_list("name_ar", flat=True)
        )
    return names


def catalogue_sentences() -> set[str]:
    """Return the English msgids that have an Arabic translation of their own."""
    from django.utils import translation

    with translation.override("ar"):
        catalog = translation.trans_real.translation("ar")._catalog
        sentences = set()
        for msgid, msgstr in catalog.items():
            if not isinstance(msgid, str) or not msgstr or msgstr == msgid:
                continue
            if "%" in msgid or "{" in msgid or not re.search("[A-Za-z]", msgid):
                continue
            sentences.add(msgid)
    # A one-word label may also be someone's name (the demo's "Aisha Agent").
    from django.contrib.auth import get_user_model

    people = get_user_model().objects.values_list("username", "first_name", "last_name")
    return sentences - {name for person in people for name in person}


@dataclass
class Crawl:
    """One signed-in crawl: pages visited and what was found on them."""

    client: object
    language: str
    visited: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def run(self, starts=START_PAGES) -> "Crawl":
        sentences = catalogue_sentences() if self.language == "ar" else set()
        names = arabic_names() if self.language == "en" else set()
        shapes: Counter = Counter()
        queue = list(starts)
        seen = set(queue)
        while queue and len(self.visited) < MAX_PAGES:
            url = queue.pop(0)
            response = self.client.get(url)
            if response.status_code in (301, 302):
                location = urljoin(url, response["Location"])
                if location not in seen and not SKIPPED.search(location):
                    seen.add(location)
                    queue.insert(0, location)
                continue
            if response.status_code == 403:
                continue
            if response.status_code != 200:
                self.errors.append(f"{response.status_code} {url}")
                continue
            if "text/html" not in response.get("Content-Type", ""):
                continue
            self.visited.append(url)
            page = _Page()
            page.feed(response.content.decode())
            self._check(url, page, sentences, names)
            for href in page.links:
                target = self._internal(url, href)
                if not target or target in seen:
                    continue
                seen.add(target)
                shape = re.sub(r"\d+", "N", target.split("?")[0])
                shapes[shape] += 1
                if shapes[shape] <= PER_SHAPE:
                    queue.append(target)
        return self

    @staticmethod
    def _internal(base: str, href: str) -> str | None:
        if href.startswith(("#", "mailto:", "tel:", "javascript:")):
            return None
        parts = urlsplit(urljoin(f"http://testserver{base}", href))
        if parts.netloc != "testserver":
            return None
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return None if SKIPPED.search(target) else target

    def _check(self, url: str, page: _Page, sentences: set, names: set) -> None:
        for text, block, marked_arabic in page.texts:
            for code in DOTTED_CODE.findall(text):
                self.findings.append(Finding(url, "raw code", code))
            if TIME.search(text) and not ZONE.search(
                text + " " + page.block_text(block)
            ):
                self.findings.append(Finding(url, "time, no zone", text))
            if self.language == "ar" and text in sentences:
                self.findings.append(Finding(url, "untranslated", text))
            if (
                names
                and not marked_arabic
                and "/history/" not in url  # stored values, in their language
                and ARABIC.search(text)
                and any(name in text for name in names)
            ):
                self.findings.append(Finding(url, "arabic name", text))


def crawl_as(username: str, language: str) -> Crawl:
    """Sign in as a user in a language and crawl what the menus reach."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from ccm.models import UserSettings

    user = get_user_model().objects.get(username=username)
    UserSettings.objects.update_or_create(user=user, defaults={"language": language})
    client = Client()
    client.force_login(user)
    return Crawl(client, language).run([*START_PAGES, *console_starts(client)])


def console_starts(client) -> list[str]:
    """Return the console's search for a few demo customers, where agents start.

    A search is posted; its results are at the URL it redirects to.
    """
    from customers.models import Customer

    starts = []
    for external_id in Customer.objects.order_by("pk").values_list(
        "external_id", flat=True
    )[:3]:
        response = client.post("/agent/", {"q": external_id})
        # A role without the console is refused (403): it has nothing to crawl.
        if response.status_code == 302:
            starts.append(response["Location"])
    return starts


if __name__ == "__main__":
    import os
    import sys

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ccm.settings")
    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    crawl = crawl_as(sys.argv[1], sys.argv[2])
    seen = Counter((finding.kind, finding.text) for finding in crawl.findings)
    first = {}
    for finding in crawl.findings:
        first.setdefault((finding.kind, finding.text), finding.url)
    for (kind, text), count in sorted(seen.items()):
        print(f"{kind:<14} x{count:<3} {text!r:.90}  {first[kind, text]:.70}")  # noqa: T201
    print(len(crawl.visited), "pages;", len(crawl.findings), "findings", crawl.errors)  # noqa: T201
