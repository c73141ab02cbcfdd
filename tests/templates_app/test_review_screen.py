"""The decision panel says what the signed-in user can do, and why not approve."""

import pytest
from django.test import Client
from django.urls import reverse

from ccm.models import UserSettings
from templates_app import services
from templates_app.models import Category
from tests.templates_app.conftest import (
    AUTHOR_PERMISSIONS,
    grant,
    make_block,
    make_template,
    user_with,
)

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def strict(db) -> Category:
    return Category.objects.create(code="strict", name="Strict", required_approvals=2)


@pytest.fixture
def in_review(strict, author, reviewer):
    grant(strict, "review_category", reviewer)
    version = make_template(
        strict,
        author,
        contents=[("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Hi</p>"})],
        channels=["email"],
    )
    return services.version_submit(version=version, actor=author)


def _review(version) -> str:
    return reverse("admin:templates_app_templateversion_review", args=[version.pk])


def test_the_author_is_told_what_they_can_do_and_why_they_cannot_approve(
    in_review, author, strict
):
    grant(strict, "review_category", author)
    body = _client(author).get(_review(in_review)).content.decode()
    assert 'id="tpl-approve"' not in body
    assert "Withdraw it from review to change it" in body
    assert "Why you cannot approve it:" in body
    assert "Segregation of duties" in body and "wrote" in body
    assert "0 of 2 distinct approvals given." in body


def test_the_author_without_review_rights_is_told_they_lack_them_in_arabic(
    in_review, author
):
    UserSettings.objects.create(user=author, language="ar")
    body = _client(author).get(_review(in_review)).content.decode()
    assert 'dir="rtl"' in body
    assert "ما يمكنك فعله" in body
    assert "لماذا لا يمكنك اعتمادها:" in body


def test_a_reviewer_sees_approve_and_reject_and_no_refusal(in_review, reviewer):
    body = _client(reviewer).get(_review(in_review)).content.decode()
    assert 'id="tpl-approve"' in body and 'id="tpl-reject"' in body
    assert 'id="tpl-refusal"' not in body


def test_a_block_version_has_the_same_decision_panel(author, reviewer):
    block_version = make_block("footer", author, [("en", "<p>F</p>", "F")])
    services.block_submit(block_version=block_version, actor=author)
    change = reverse(
        "admin:templates_app_contentblockversion_change", args=[block_version.pk]
    )
    as_reviewer = _client(reviewer).get(change).content.decode()
    assert 'id="tpl-approve"' in as_reviewer
    assert "0 of 1 approval given." in as_reviewer
    as_author = _client(author).get(change).content.decode()
    assert 'id="tpl-approve"' not in as_author
    assert "Why you cannot approve it:" in as_author


def test_reviewers_are_not_offered_the_submit_drafts_action(in_review, reviewer):
    changelist = reverse("admin:templates_app_templateversion_changelist")
    as_reviewer = _client(reviewer).get(changelist).content.decode()
    assert "_submit_versions" not in as_reviewer
    writer = user_with("writer", AUTHOR_PERMISSIONS)
    grant(in_review.category, "author_category", writer)
    as_author = _client(writer).get(changelist).content.decode()
    assert "_submit_versions" in as_author
