"""Admin side of the workflow: lists scoped by category permissions, review screen."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from templates_app import services
from templates_app.demo import demo_workflow_seed
from templates_app.models import Category, Status, Template, TemplateVersion
from tests.templates_app.conftest import grant, user_with

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded(author, reviewer, second_reviewer):
    return demo_workflow_seed(
        author=author, reviewer=reviewer, second_reviewer=second_reviewer
    )


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_demo_has_a_template_in_every_state(seeded):
    statuses = set(TemplateVersion.objects.values_list("status", flat=True))
    assert statuses == {
        Status.DRAFT,
        Status.IN_REVIEW,
        Status.APPROVED,
        Status.REJECTED,
        Status.RETIRED,
    }
    renewal = seeded["policy-renewal-letter"]
    future = renewal.versions.get(number=2)
    assert future.status == Status.APPROVED
    assert (
        future.effective_from > future.approvals.get(reviewer__username="reviewer").at
    )
    assert future.approvals.count() == 2
    from templates_app.selectors import version_in_force

    for code in ("payment-reminder", "policy-renewal-letter", "one-time-passcode"):
        in_force = version_in_force(seeded[code])
        assert in_force.number == 1
        assert services.version_hash_ok(in_force)


def test_lists_show_only_granted_categories_with_bounded_queries(
    seeded, django_assert_max_num_queries
):
    collections = Category.objects.get(code="collections")
    viewer = grant(
        collections,
        "author_category",
        user_with("scoped", ["view_templateversion", "view_template"]),
    )
    client = _client(viewer)
    url = reverse("admin:templates_app_templateversion_changelist")
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.status_code == 200
    shown_rows = response.context["cl"].result_list
    shown = {v.template.category.code for v in shown_rows}
    assert shown == {"collections"}
    templates = client.get(reverse("admin:templates_app_template_changelist"))
    codes = {t.code for t in templates.context["cl"].result_list}
    assert codes == {"payment-reminder", "branch-closure-notice"}
    other = TemplateVersion.objects.filter(template__category__code="security").first()
    change = reverse("admin:templates_app_templateversion_change", args=[other.pk])
    assert client.get(change).status_code in (302, 403, 404)
    # Twice the rows, the same number of queries: no per-row permission check.
    grant(Category.objects.get(code="security"), "author_category", viewer)
    with django_assert_max_num_queries(14):
        assert len(client.get(url).context["cl"].result_list) > len(shown_rows)


def test_template_form_offers_only_categories_the_author_may_write(seeded):
    collections = Category.objects.get(code="collections")
    writer = grant(
        collections,
        "author_category",
        user_with("writer", ["view_template", "add_template", "view_category"]),
    )
    response = _client(writer).get(reverse("admin:templates_app_template_add"))
    choices = [
        c for c, _ in response.context["adminform"].form.fields["category"].choices
    ]
    assert [str(c) for c in choices if c] == [str(collections.pk)]


def test_review_screen_shows_preview_diff_pins_and_decision(seeded, reviewer):
    version = seeded["payment-reminder"].versions.get(status=Status.IN_REVIEW)
    response = _client(reviewer).get(
        reverse("admin:templates_app_templateversion_review", args=[version.pk])
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="tpl-preview"' in body and 'data-editable="0"' in body
    assert "Differences from v1" in body and "diff_add" in body
    assert "legal-footer v1" in body
    assert 'id="tpl-approve"' in body


def test_author_sees_no_approve_button_and_a_post_is_refused(seeded, author):
    version = seeded["payment-reminder"].versions.get(status=Status.IN_REVIEW)
    client = _client(author)
    review = reverse("admin:templates_app_templateversion_review", args=[version.pk])
    body = client.get(review).content.decode()
    assert 'id="tpl-approve"' not in body
    approve = reverse(
        "admin:templates_app_templateversion_transition", args=[version.pk, "approve"]
    )
    response = client.post(approve, {"comment": "mine"}, follow=True)
    messages = [str(m) for m in response.context["messages"]]
    assert any("review permission" in m for m in messages), messages
    version.refresh_from_db()
    assert version.status == Status.IN_REVIEW


def test_reviewer_approves_through_the_admin(seeded, reviewer):
    version = seeded["payment-reminder"].versions.get(status=Status.IN_REVIEW)
    approve = reverse(
        "admin:templates_app_templateversion_transition", args=[version.pk, "approve"]
    )
    response = _client(reviewer).post(approve, {"comment": "Clear and kind."})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == Status.APPROVED
    assert version.approvals.get().comment == "Clear and kind."


def test_submit_action_reports_each_refusal(seeded, author):
    draft = seeded["one-time-passcode"].versions.get(status=Status.DRAFT)
    approved = seeded["one-time-passcode"].versions.get(number=1)
    response = _client(author).post(
        reverse("admin:templates_app_templateversion_changelist"),
        {
            "action": "_submit_versions",
            "_selected_action": [draft.pk, approved.pk],
        },
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("submitted for review" in m for m in messages), messages
    assert any("cannot be submitted" in m for m in messages), messages
    draft.refresh_from_db()
    assert draft.status == Status.IN_REVIEW


def test_operator_requests_a_category_permission_and_revokes_in_the_admin(
    seeded, author
):
    operator = user_with("operator", ["manage_category_permissions", "view_category"])
    operator.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["add_rolegrant", "view_rolegrant", "approve_rolegrant"]
        )
    )
    category = Category.objects.get(code="security")
    url = reverse("admin:templates_app_category_permissions", args=[category.pk])
    client = _client(operator)
    page = client.get(url).content.decode()
    assert "author" in page
    request_url = reverse("admin:ccm_rolegrant_add") + f"?category={category.pk}"
    assert request_url in page
    form = client.get(request_url).content.decode()
    assert f'<option value="{category.pk}" selected>' in form
    response = client.post(
        request_url,
        {
            "category": category.pk,
            "permission": "review_category",
            "user": author.pk,
            "reason": "Security reviews",
        },
    )
    assert response.status_code == 302
    assert not author.__class__.objects.get(pk=author.pk).has_perm(
        "templates_app.review_category", category
    )
    assert AuditEvent.objects.filter(action="auth.grant.requested").exists()

    response = client.post(url, {"permission": "author_category", "user": author.pk})
    assert response.status_code == 302
    assert not author.__class__.objects.get(pk=author.pk).has_perm(
        "templates_app.author_category", category
    )
    assert AuditEvent.objects.filter(
        action="auth.permission.revoked", actor_label__contains="operator"
    ).exists()
    assert _client(author).get(url).status_code == 403


def test_block_redraft_action_starts_drafts_of_dependents(seeded, author, reviewer):
    from templates_app.models import ContentBlock

    block = ContentBlock.objects.get(code="letterhead")
    draft = services.block_draft_create(block=block, author=author)
    services.block_content_save(
        block_version=draft,
        contents=[
            (c.language, c.html + "<p>new</p>", c.text) for c in draft.contents.all()
        ],
        actor=author,
    )
    services.block_submit(block_version=draft, actor=author)
    services.block_approve(block_version=draft, actor=reviewer)
    response = _client(author).post(
        reverse("admin:templates_app_contentblock_redraft_dependents", args=[block.pk]),
        follow=True,
    )
    messages = [str(m) for m in response.context["messages"]]
    assert any("policy-renewal-letter v3" in m for m in messages), messages
    renewal = Template.objects.get(code="policy-renewal-letter")
    new = renewal.versions.get(number=3)
    assert new.pins.filter(block_version=draft).exists()


def test_an_approval_refused_in_the_admin_reads_in_arabic_for_an_arabic_author(
    seeded, author
):
    from ccm.models import UserSettings

    UserSettings.objects.create(user=author, language="ar")
    version = seeded["payment-reminder"].versions.get(status=Status.IN_REVIEW)
    approve = reverse(
        "admin:templates_app_templateversion_transition", args=[version.pk, "approve"]
    )

    response = _client(author).post(approve, {"comment": "mine"}, follow=True)

    messages = [str(m) for m in response.context["messages"]]
    assert len(messages) == 1, messages
    assert "صلاحية المراجعة" in messages[0] or "الفصل بين المهام" in messages[0]
    assert "review permission" not in messages[0]
