"""Builders for inventory tests: an author, a category, templates from text."""

import pytest

from ccm.roles import AUTHOR, OPERATOR, REVIEWER
from templates_app import selectors, services
from templates_app.categories import category_create
from templates_app.demo import _template_create
from templates_app.demo_duplicates import _spec
from tests.factories import user_build


@pytest.fixture
def author(db):
    return user_build(username="amira", role=AUTHOR)


@pytest.fixture
def operator(db):
    return user_build(username="omar", role=OPERATOR)


@pytest.fixture
def reviewer(db):
    return user_build(username="rami", role=REVIEWER)


@pytest.fixture
def category(author, reviewer):
    category = category_create(actor=None, code="legacy", name="Legacy letters")
    services.category_permission_grant(
        category=category, permission=selectors.AUTHOR, user=author, actor=None
    )
    services.category_permission_grant(
        category=category, permission=selectors.REVIEW, user=reviewer, actor=None
    )
    for user in (author, reviewer):
        for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
            user.__dict__.pop(cache, None)
    return category


def email(subject: str, *paragraphs: str) -> dict:
    return {
        "subject": subject,
        "html": "\n".join(f"<p>{p}</p>" for p in paragraphs),
        "text": "",
    }


@pytest.fixture
def template_make(author, category):
    """Create a template with a draft from {(channel, language): fields}."""

    def make(code: str, contents: dict, *, names=("name", "policy"), name=None):
        channels = sorted({channel for channel, _language in contents})
        spec = _spec(
            code,
            name or code.replace("-", " ").title(),
            names,
            [(c, lang, fields) for (c, lang), fields in contents.items()],
            channels=channels,
        )
        return _template_create(spec, category, author)

    return make
