"""Template versions and content block versions go through one workflow.

Each test runs for both kinds and expects the same behaviour: the category's
quorum, the author check, who is emailed (in their language, with an absolute
link), the audit events and the domain signals.
"""

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent
from ccm.models import UserSettings
from templates_app import selectors, services, signals, workflow
from templates_app.models import Category, ContentBlock, ContentBlockVersion, Status
from tests.templates_app.conftest import grant, make_block, make_template

pytestmark = pytest.mark.django_db

EMAIL_EN = ("email", "en", {"subject": "Hi {{ name }}", "html": "<p>Hi</p>"})


@pytest.fixture
def strict(db) -> Category:
    return Category.objects.create(code="strict", name="Strict", required_approvals=2)


@pytest.fixture
def reviewers(strict, reviewer, second_reviewer):
    return [
        grant(strict, "review_category", reviewer),
        grant(strict, "review_category", second_reviewer),
    ]


def _template_version(category, author):
    return make_template(category, author, contents=[EMAIL_EN], channels=["email"])


def _block_version(category, author):
    block_version = make_block("footer", author, [("en", "<p>F</p>", "F")])
    ContentBlock.objects.filter(pk=block_version.block_id).update(category=category)
    block_version.block.refresh_from_db()
    return block_version


SERVICES = {
    "version": {
        "build": _template_version,
        "argument": "version",
        "submit": services.version_submit,
        "approve": services.version_approve,
        "reject": services.version_reject,
        "action": "templates.version",
        "link": "/admin/templates_app/templateversion/",
    },
    "block": {
        "build": _block_version,
        "argument": "block_version",
        "submit": services.block_submit,
        "approve": services.block_approve,
        "reject": services.block_reject,
        "action": "templates.block",
        "link": "/admin/templates_app/contentblockversion/",
    },
}


@pytest.fixture(params=sorted(SERVICES))
def kind(request):
    return SERVICES[request.param]


def _call(kind, verb, subject, **kwargs):
    return kind[verb](**{kind["argument"]: subject}, **kwargs)


def _events(subject) -> list[str]:
    return list(
        AuditEvent.objects.filter(
            object_id=str(subject.pk),
            content_type=ContentType.objects.get_for_model(subject),
        )
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def test_both_kinds_run_through_the_same_transition_services(kind, strict, author):
    subject = kind["build"](strict, author)
    assert workflow.kind_of(subject).model is type(subject)
    assert workflow.SERVICES["submit"] is workflow.submit
    assert workflow.refusal(subject, "submit", author) is None


def test_the_category_quorum_needs_distinct_reviewers(kind, strict, author, reviewers):
    first, second = reviewers
    subject = kind["build"](strict, author)
    _call(kind, "submit", subject, actor=author)

    subject = _call(kind, "approve", subject, actor=first, comment="one")
    assert subject.status == Status.IN_REVIEW
    with pytest.raises(services.WorkflowRefused) as refused:
        _call(kind, "approve", subject, actor=first)
    assert refused.value.rule == "distinct-approvals"
    subject = _call(kind, "approve", subject, actor=second, comment="two")

    assert subject.status == Status.APPROVED
    action = kind["action"]
    assert _events(subject)[-3:] == [
        f"{action}.submitted",
        f"{action}.approval_recorded",
        f"{action}.approved",
    ]


def test_only_an_author_may_submit_and_the_author_may_not_approve(
    kind, strict, author, reviewers
):
    first, _second = reviewers
    subject = kind["build"](strict, author)
    first.user_permissions.clear()
    first = type(first).objects.get(pk=first.pk)
    with pytest.raises(services.AuthoringForbidden):
        _call(kind, "submit", subject, actor=first)
    subject.refresh_from_db()
    assert subject.status == Status.DRAFT
    assert _events(subject)[-1].endswith(".created")

    _call(kind, "submit", subject, actor=author)
    with pytest.raises(services.WorkflowRefused) as refused:
        _call(kind, "approve", subject, actor=author)
    assert refused.value.rule in ("permission", "segregation")


def test_reviewers_are_asked_in_their_language_with_a_link_and_the_author_hears(
    kind, strict, author, reviewers, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SITE_URL = "https://ccm.example.com"
    first, second = reviewers
    UserSettings.objects.create(user=second, language="ar")
    subject = kind["build"](strict, author)

    with django_capture_on_commit_callbacks(execute=True):
        _call(kind, "submit", subject, actor=author)

    asked = {message.to[0]: message for message in mail.outbox}
    assert sorted(asked) == sorted([first.email, second.email])
    assert author.email not in asked
    english, arabic = asked[first.email], asked[second.email]
    assert english.subject.startswith("Review requested")
    assert arabic.subject.startswith("طلب مراجعة")
    assert arabic.extra_headers["Content-Language"] == "ar"
    for message in (english, arabic):
        assert f"https://ccm.example.com{kind['link']}{subject.pk}/" in message.body

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        _call(kind, "reject", subject, actor=first, comment="Needs a date")
    (decided,) = mail.outbox
    assert decided.to == [author.email]
    assert "Needs a date" in decided.body
    assert "https://ccm.example.com/admin/" in decided.body


def test_decisions_are_signalled_after_commit(
    kind, strict, author, reviewers, django_capture_on_commit_callbacks
):
    first, second = reviewers
    subject = kind["build"](strict, author)
    received = []

    def receiver(sender, version, actor, **kwargs):
        received.append((sender, version.pk, version.status, actor))

    signals.version_approved.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            _call(kind, "submit", subject, actor=author)
            _call(kind, "approve", subject, actor=first)
            _call(kind, "approve", subject, actor=second)
    finally:
        signals.version_approved.disconnect(receiver)

    assert received == [(type(subject), subject.pk, Status.APPROVED, second)]


def test_a_block_in_review_keeps_its_category(strict, author):
    block_version = _block_version(strict, author)
    services.block_submit(block_version=block_version, actor=author)
    block = block_version.block
    block.category = None
    block.description = "moved"
    with pytest.raises(services.AuthoringError):
        services.block_save(block=block, actor=None)


def _redraft(subject, author):
    """Start a new draft from a version, as "New draft from this version" does."""
    if isinstance(subject, ContentBlockVersion):
        return services.block_draft_create(block=subject.block, author=author)
    return services.version_draft_create(
        template=subject.template, author=author, source=subject
    )


def test_a_version_redrafted_unchanged_by_another_is_refused_to_its_writer(
    kind, strict, author, reviewers, client
):
    """Segregation follows the words: the writer of v1 may not approve its copy."""
    first, second = reviewers
    writer = grant(strict, "author_category", first)
    writer.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["change_contentblockversion", "change_contentblockcontent"]
        )
    )
    writer = type(writer).objects.get(pk=writer.pk)
    original = kind["build"](strict, writer)
    _call(kind, "submit", original, actor=writer)
    _call(kind, "reject", original, actor=second, comment="Not yet")
    redraft = _redraft(original, grant(strict, "author_category", author))
    _call(kind, "submit", redraft, actor=author)

    with pytest.raises(services.WorkflowRefused) as refused:
        _call(kind, "approve", redraft, actor=writer)
    assert refused.value.rule == "segregation"
    assert str(original.number) in str(refused.value)
    assert workflow.refusal(redraft, "approve", writer) is not None

    client.force_login(writer)
    page = client.get(
        reverse(workflow.kind_of(redraft).review_url, args=[redraft.pk])
    ).content.decode()
    assert 'id="tpl-approve"' not in page
    assert "Why you cannot approve it" in page
    assert "descends" in page

    assert not selectors.approvals_current(redraft).exists()
    _call(kind, "approve", redraft, actor=second)
    assert [a.reviewer for a in selectors.approvals_current(redraft)] == [second]
