"""The reviewer's diffs are bounded: capped input, computed once, cut where said.

Before, the side-by-side source diff paired every changed line with every
other (1,000 changed lines took 49 s) and was computed again for each screen
that listed a changed schema.
"""

import json
from unittest import mock

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from templates_app import diffs, services
from templates_app.diffs import source_diff, word_difference
from templates_app.models import Category
from templates_app.validation import ContentDraft
from tests.templates_app.conftest import grant, make_template

CHANGED_LINES = 5_000


def _lines(word: str, count: int = CHANGED_LINES) -> str:
    return "\n".join(f"{word} {n}" for n in range(count))


def test_a_long_source_is_compared_up_to_the_limit_and_says_where_it_was_cut():
    difference = source_diff(
        _lines("before"), _lines("after"), fromdesc="v1", todesc="v2"
    )

    assert difference.notes[:2] == [
        "v1 is cut at line 1000 of 5000: at most 1000 lines and 100000 characters"
        " are compared; the rest is not shown.",
        "v2 is cut at line 1000 of 5000: at most 1000 lines and 100000 characters"
        " are compared; the rest is not shown.",
    ]
    assert "whole lines removed (-) and added (+)" in difference.notes[2]
    assert "before 999" in difference.html and "before 1000" not in difference.html
    assert 'class="tpl-unified-diff"' in difference.html


@override_settings(TEMPLATES_DIFF_MAX_CHARACTERS=50)
def test_the_characters_compared_are_bounded_too():
    difference = source_diff(
        "a" * 40 + "\n" + "b" * 40, "c", fromdesc="v1", todesc="v2"
    )

    assert difference.notes[0].startswith("v1 is cut at line 2 of 2")
    assert "b" * 10 in difference.html and "b" * 11 not in difference.html


def test_a_small_change_keeps_the_side_by_side_table_without_a_note():
    difference = source_diff(
        "Dear {{ name }},\nPay soon.\nThanks",
        "Dear {{ name }},\nPay today.\nThanks",
        fromdesc="v1",
        todesc="v2",
    )

    assert difference.notes == []
    assert 'class="diff"' in difference.html


def test_the_source_is_escaped_in_either_form():
    for count in (1, CHANGED_LINES):
        difference = source_diff(
            _lines("<script>x</script>", count), "", fromdesc="v1", todesc="v2"
        )
        assert "<script>" not in difference.html
        assert "&lt;script&gt;" in difference.html


def test_a_long_rewrite_is_marked_whole_when_word_by_word_is_too_costly():
    before = " ".join(f"old{n % 50}" for n in range(5_000))
    after = " ".join(f"new{n % 50} old{n % 50}" for n in range(5_000))

    difference = word_difference(before, after)

    assert "shown whole as removed and added" in difference.notes[-1]
    assert difference.html.startswith("<del>old0 old1")
    assert "<ins>new0 old0" in difference.html


def test_a_short_change_is_still_marked_word_by_word():
    difference = word_difference("Pay soon.\nThanks", "Pay today.\nThanks")

    assert difference.notes == []
    assert difference.html == "Pay <del>soon.</del><ins>today.</ins>\nThanks"


@pytest.fixture
def rewritten(db, author, reviewer):
    """An approved version, and a submitted one with 5,000 changed lines."""
    category = Category.objects.create(code="general", name="General")
    grant(category, "review_category", reviewer)
    first = make_template(
        category,
        author,
        channels=["email"],
        contents=[
            ("email", "en", {"subject": "Hi", "html": "<p>Pay soon.</p>", "text": ""})
        ],
    )
    services.version_submit(version=first, actor=author)
    services.version_approve(version=first, actor=reviewer)
    template = first.template
    template.data_schema = {
        "type": "object",
        "required": ["name"],
        "properties": {f"field_{n}": {"type": "string"} for n in range(600)}
        | {"name": {"type": "string"}},
    }
    services.template_save(template=template, actor=author)
    second = services.version_draft_create(template=template, author=author)
    services.version_content_save(
        version=second,
        contents=[
            ContentDraft(
                "email",
                "en",
                {
                    "subject": "Hi",
                    "html": "<p>Pay soon.</p>",
                    "text": _lines("{{ name }}"),
                },
            )
        ],
        actor=author,
    )
    services.version_submit(version=second, actor=author)
    return first, second


def test_the_review_page_of_a_version_with_5000_changed_lines_says_it_is_shortened(
    rewritten, reviewer
):
    _first, second = rewritten
    client = Client()
    client.force_login(reviewer)

    page = client.get(
        reverse("admin:templates_app_templateversion_review", args=[second.pk])
    )

    assert page.status_code == 200
    body = page.content.decode()
    assert "v2 is cut at line 1000 of 5000" in body
    assert "v1 is cut" not in body  # the earlier text was whole
    assert body.count("v2 is cut at line 1000 of 5000") == 2  # source and words
    # The schema (600 fields, 1,800 lines) is cut as well, and diffed once.
    settings = {row.field: row for row in page.context["settings_rows"]}
    assert settings["data_schema"].changed
    assert "v2 is cut at line 1000 of" in settings["data_schema"].difference.notes[0]


def test_the_diff_page_of_a_version_with_5000_changed_lines_says_it_is_shortened(
    rewritten, reviewer
):
    _first, second = rewritten
    client = Client()
    client.force_login(reviewer)

    page = client.get(
        reverse("admin:templates_app_templateversion_diff", args=[second.pk])
    )

    assert page.status_code == 200
    assert "v2 is cut at line 1000 of 5000" in page.content.decode()


def test_each_diff_is_computed_once_per_request(rewritten, reviewer):
    _first, second = rewritten
    client = Client()
    client.force_login(reviewer)

    with (
        mock.patch(
            "templates_app.version_settings.source_diff", wraps=diffs.source_diff
        ) as schema_diff,
        mock.patch(
            "templates_app.admin_versions.source_diff", wraps=diffs.source_diff
        ) as content_diff,
        mock.patch(
            "templates_app.word_diff.word_difference", wraps=diffs.word_difference
        ) as word_diff,
    ):
        page = client.get(
            reverse("admin:templates_app_templateversion_review", args=[second.pk])
        )

    assert page.status_code == 200
    assert schema_diff.call_count == 1
    assert content_diff.call_count == 1  # only the email text changed
    assert word_diff.call_count == 2  # the subject and the text


def test_the_review_queue_does_not_diff_the_schemas(rewritten, reviewer):
    client = Client()
    client.force_login(reviewer)

    with mock.patch(
        "templates_app.version_settings.source_diff", wraps=diffs.source_diff
    ) as schema_diff:
        page = client.get(reverse("admin:templates_app_review_queue"))

    assert page.status_code == 200
    assert "Data schema" in page.content.decode()
    assert schema_diff.call_count == 0


def test_a_schema_diff_is_json_text_and_escaped():
    difference = source_diff(
        json.dumps({"title": "<b>"}),
        json.dumps({"title": "<i>"}),
        fromdesc="a",
        todesc="b",
    )
    assert "<i>" not in difference.html and "<b>" not in difference.html
