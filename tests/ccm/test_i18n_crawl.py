"""Every screen, as each role sees it, speaks the reader's language and zone.

With the demo data, each demo role signs in, visits what the menus and the
console reach (tests/crawl.py), and finds no raw dotted code, no English
sentence of the catalogue on an Arabic page, no time without its zone, and
no Arabic-only name on an English page.
"""

import io

import pytest
from django.core.management import call_command

from tests import shared
from tests.crawl import crawl_as

pytestmark = pytest.mark.django_db

ROLES = ["author", "reviewer", "agent", "operator"]


def _demo_site_seed() -> bool:
    from django.conf import settings

    debug, settings.DEBUG = settings.DEBUG, True
    try:
        call_command("seed_demo", dispatches=60, stdout=io.StringIO())
    finally:
        settings.DEBUG = debug
    return True


shared.SharedRows.seeds["demo_site"] = _demo_site_seed


@pytest.fixture
def demo_site(db):
    """The whole demo (users, templates, customers, dispatches), seeded once."""
    if not shared.rows("demo_site"):
        _demo_site_seed()


@pytest.mark.parametrize("language", ["ar", "en"])
@pytest.mark.parametrize("username", ROLES)
def test_every_page_a_role_reaches_reads_in_its_language_and_zone(
    demo_site, username, language
):
    crawl = crawl_as(username, language)

    assert len(crawl.visited) >= 8, crawl.visited
    assert not crawl.errors
    assert not crawl.findings, "\n".join(str(f) for f in crawl.findings[:40])


def test_the_crawl_catches_a_raw_code_an_untranslated_sentence_and_a_bare_time():
    from tests.crawl import Crawl, _Page, catalogue_sentences

    sentences = catalogue_sentences()
    sentence = sorted(sentences)[0]
    page = _Page()
    page.feed(
        f"<p>channels.dispatch.queued</p><p>{sentence}</p>"
        "<td>2026-12-06 14:05</td><td>2026-12-06 14:05 +03</td>"
        '<td><bdi dir="ltr">2026-12-06 14:05</bdi> <small>+03</small></td>'
    )
    crawl = Crawl(client=None, language="ar")

    crawl._check("/page", page, sentences, set())

    assert [(f.kind, f.text) for f in crawl.findings] == [
        ("raw code", "channels.dispatch.queued"),
        ("untranslated", sentence),
        ("time, no zone", "2026-12-06 14:05"),
    ]
