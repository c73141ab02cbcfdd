"""Builders and fixtures for template authoring tests: users, demo data, SMTP."""

import subprocess

import pytest
from django.contrib.auth.models import Permission, User

from templates_app import services
from templates_app.demo import demo_seed
from templates_app.models import Category, ContentBlock, Template
from templates_app.validation import ContentDraft
from tests import shared

AUTHOR_PERMISSIONS = [
    "view_category",
    "view_template",
    "change_template",
    "add_template",
    "view_templateversion",
    "add_templateversion",
    "change_templateversion",
    "view_versioncontent",
    "add_versioncontent",
    "change_versioncontent",
    "delete_versioncontent",
    "view_contentblock",
    "view_contentblockversion",
    "add_contentblockversion",
    "change_contentblockversion",
    "view_contentblockcontent",
    "add_contentblockcontent",
    "change_contentblockcontent",
    "delete_contentblockcontent",
]
REVIEWER_PERMISSIONS = [
    "view_category",
    "view_template",
    "view_templateversion",
    "view_versioncontent",
    "view_contentblock",
    "view_contentblockversion",
    "view_contentblockcontent",
    "view_versionblockpin",
    "review_contentblock",
]
BIDI_MARKS = dict.fromkeys(
    [*range(0x202A, 0x202F), 0x200E, 0x200F, *range(0x2066, 0x206A)]
)


def user_with(username: str, codenames: list[str], **extra) -> User:
    """Create a staff user holding exactly the given templates_app permissions."""
    user = User.objects.create_user(
        username=username,
        password="correct-horse-battery",  # noqa: S106
        email=f"{username}@example.com",
        is_staff=True,
        **extra,
    )
    user.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="templates_app", codename__in=codenames
        )
    )
    return User.objects.get(pk=user.pk)


def _demo_seed() -> int:
    author = user_with("author", AUTHOR_PERMISSIONS, first_name="Amal")
    demo_seed(author=author)
    return author.pk


shared.SharedRows.seeds["templates_app_demo"] = _demo_seed


@pytest.fixture
def templates_app_demo() -> None:
    """Asks for the author and the demo content seeded once (tests/conftest.py)."""


@pytest.fixture
def author(db) -> User:
    if author_pk := shared.rows("templates_app_demo"):
        return User.objects.get(pk=author_pk)
    return user_with("author", AUTHOR_PERMISSIONS, first_name="Amal")


@pytest.fixture
def demo(templates_app_demo, author) -> dict[str, Template]:
    if not shared.rows("templates_app_demo"):
        demo_seed(author=author)
    return {template.code: template for template in Template.objects.all()}


@pytest.fixture
def reviewer(db) -> User:
    return user_with("reviewer", REVIEWER_PERMISSIONS, first_name="Rami")


@pytest.fixture
def second_reviewer(db) -> User:
    return user_with("reviewer2", REVIEWER_PERMISSIONS, first_name="Rana")


def grant(category, permission: str, user) -> User:
    """Grant a category permission through the service; return the user reloaded."""
    services.category_permission_grant(
        category=category, permission=permission, user=user, actor=None
    )
    return User.objects.get(pk=user.pk)


@pytest.fixture
def category(db) -> Category:
    return Category.objects.create(code="general", name="General")


def make_template(
    category,
    author,
    *,
    contents,
    channels,
    schema=None,
    sample=None,
    default_language="en",
    code="t1",
):
    """Create a template and its first draft with the given content drafts."""
    template = Template(
        code=code,
        name=code.title(),
        category=category,
        channels=channels,
        default_language=default_language,
        data_schema=schema
        or {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}},
        },
        sample_data=sample if sample is not None else {"name": "Huda"},
    )
    if not author.has_perm("templates_app.author_category", category):
        services.category_permission_grant(
            category=category, permission="author_category", user=author, actor=None
        )
    services.template_save(template=template, actor=author)
    version = services.version_draft_create(template=template, author=author)
    services.version_content_save(
        version=version,
        contents=[
            ContentDraft(channel=c, language=lang, fields=f) for c, lang, f in contents
        ],
        actor=author,
    )
    return version


def make_block(code, author, contents):
    """Create a content block with one draft version holding (lang, html, text)."""
    block = ContentBlock.objects.create(code=code, name=code.title())
    version = services.block_draft_create(block=block, author=author)
    services.block_content_save(block_version=version, contents=contents, actor=author)
    return version


def pdf_text(pdf: bytes) -> str:
    """Return the text of a PDF as pdftotext sees it, without bidi control marks."""
    result = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return result.stdout.decode().translate(BIDI_MARKS)
