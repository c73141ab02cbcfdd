"""The reviewer's word diff of the rendered text, per channel and language."""

import pytest
from django.test import Client
from django.urls import reverse

from templates_app import services
from templates_app.models import Category
from templates_app.validation import ContentDraft
from templates_app.word_diff import word_diffs, words_marked
from tests.templates_app.conftest import grant, make_template


def test_changed_words_are_marked_inline_and_escaped():
    marked = words_marked("Pay <b>now</b> please", "Pay <b>today</b> please")
    assert marked == (
        "Pay <del>&lt;b&gt;now&lt;/b&gt;</del>"
        "<ins>&lt;b&gt;today&lt;/b&gt;</ins> please"
    )
    assert words_marked("same words", "same words") == "same words"
    assert words_marked("", "new") == "<ins>new</ins>"


@pytest.fixture
def revised(db, author, reviewer):
    category = Category.objects.create(code="general", name="General")
    grant(category, "review_category", reviewer)
    first = make_template(
        category,
        author,
        channels=["email", "sms"],
        contents=[
            ("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Pay soon.</p>"}),
            ("sms", "en", {"sms_text": "Hi {{ name }}, pay soon."}),
        ],
    )
    services.version_submit(version=first, actor=author)
    services.version_approve(version=first, actor=reviewer)
    second = services.version_draft_create(template=first.template, author=author)
    services.version_content_save(
        version=second,
        contents=[
            ContentDraft(
                "email", "en", {"subject": "Hi {{ name }}", "html": "<p>Pay today.</p>"}
            ),
            ContentDraft("sms", "en", {"sms_text": "Hi {{ name }}, pay soon."}),
        ],
        actor=author,
    )
    services.version_submit(version=second, actor=author)
    return first, second


def test_the_rendered_text_of_each_channel_is_compared_with_the_sample_data(revised):
    first, second = revised
    diffs = {(d.channel, d.part): d for d in word_diffs(first, second)}
    assert diffs[("email", "Subject")].changed is False
    assert diffs[("email", "Subject")].html == "Hi Huda"
    assert "<del>soon.</del><ins>today.</ins>" in diffs[("email", "Text")].html
    assert diffs[("sms", "SMS text")].changed is False


def test_the_review_screen_shows_the_word_diff_and_keeps_the_source_behind_a_toggle(
    revised, reviewer
):
    _first, second = revised
    client = Client()
    client.force_login(reviewer)
    body = client.get(
        reverse("admin:templates_app_templateversion_review", args=[second.pk])
    ).content.decode()
    assert "<del>soon.</del><ins>today.</ins>" in body
    assert 'id="tpl-source-diff"' in body and 'class="diff"' in body
    assert body.index('id="tpl-review-settings"') < body.index('id="tpl-review-diff"')
