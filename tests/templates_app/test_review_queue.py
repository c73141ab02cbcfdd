"""A reviewer's queue: what awaits them, oldest first, linked from the admin index."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from ccm.models import UserSettings
from templates_app import services
from templates_app.models import Category, ContentBlock
from templates_app.review_queue import review_queue
from tests.templates_app.conftest import (
    AUTHOR_PERMISSIONS,
    grant,
    make_block,
    make_template,
    user_with,
)

pytestmark = pytest.mark.django_db

QUEUE = reverse("admin:templates_app_review_queue")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def strict(db) -> Category:
    return Category.objects.create(
        code="strict", name="Strict", name_ar="صارمة", required_approvals=2
    )


@pytest.fixture
def queued(strict, author, reviewer, second_reviewer):
    """A block submitted two days ago and a template version submitted now."""
    grant(strict, "review_category", reviewer)
    grant(strict, "review_category", second_reviewer)
    block_version = make_block("footer", author, [("en", "<p>F</p>", "F")])
    ContentBlock.objects.filter(pk=block_version.block_id).update(category=strict)
    services.block_submit(block_version=block_version, actor=author)
    type(block_version).objects.filter(pk=block_version.pk).update(
        submitted_at=timezone.now() - timedelta(days=2)
    )
    version = make_template(
        strict,
        author,
        contents=[("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Hi</p>"})],
        channels=["email"],
    )
    services.version_submit(version=version, actor=author)
    return block_version, version


def test_the_queue_lists_what_the_reviewer_may_approve_oldest_first(
    queued, reviewer, author
):
    block_version, version = queued
    items = review_queue(reviewer)
    assert [item.version.pk for item in items] == [block_version.pk, version.pk]
    assert [item.kind for item in items] == ["block", "template"]
    assert all(item.required == 2 and item.approvals == 0 for item in items)
    assert items[0].changes == ["New block"]
    assert items[1].changes == ["New template"]
    # Their own work never awaits the author's review.
    assert review_queue(author) == []


def test_an_approval_leaves_the_reviewers_queue_but_not_the_seconds(
    queued, reviewer, second_reviewer
):
    _block_version, version = queued
    services.version_approve(version=version, actor=reviewer)
    assert version not in [item.version for item in review_queue(reviewer)]
    (waiting,) = [
        item for item in review_queue(second_reviewer) if item.kind == "template"
    ]
    assert waiting.approvals == 1


def test_an_editor_of_the_version_does_not_find_it_in_the_queue(queued, strict):
    _block_version, version = queued
    editor = user_with("editor", AUTHOR_PERMISSIONS)
    grant(strict, "author_category", editor)
    grant(strict, "review_category", editor)
    services.version_withdraw(version=version, actor=editor)
    services.version_content_save(
        version=version, contents=services.contents_of(version), actor=editor
    )
    content = version.contents.get()
    content.subject = "Hello {{ name }}"
    content._history_user = editor
    content.save()
    services.version_submit(version=version, actor=editor)
    assert version not in [item.version for item in review_queue(editor)]


def test_the_queue_page_shows_age_category_author_and_changes_in_both_languages(
    queued, reviewer
):
    block_version, version = queued
    page = _client(reviewer).get(QUEUE)
    assert page.status_code == 200
    body = page.content.decode()
    # Within the queue's table: a code as short as "t1" can also turn up by
    # chance in the page's random CSRF token.
    table = body[body.index('<table id="tpl-queue"') :]
    table = table[: table.index("</table>")]
    assert table.index('data-kind="block"') < table.index('data-kind="template"')
    assert table.index(str(block_version.block.code)) < table.index(
        version.template.code
    )
    assert "2\xa0days" in body
    assert "Strict" in body and "New template" in body
    assert (
        reverse("admin:templates_app_templateversion_review", args=[version.pk]) in body
    )

    UserSettings.objects.create(user=reviewer, language="ar")
    arabic = _client(reviewer).get(QUEUE).content.decode()
    assert 'dir="rtl"' in arabic
    assert "صارمة" in arabic
    assert "بانتظار مراجعتي" in arabic


def test_the_admin_index_links_the_queue_with_its_size(queued, reviewer):
    index = _client(reviewer).get(reverse("admin:index")).content.decode()
    assert QUEUE in index
    assert "<strong>2</strong>" in index


def test_someone_who_reviews_nothing_is_told_so(db, author):
    page = _client(author).get(QUEUE)
    assert page.status_code == 200
    assert "tpl-queue-none" in page.content.decode()
