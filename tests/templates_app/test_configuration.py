"""Categories, templates and blocks: every create and change is audited, and a
category's kind and required approvals change only with a second person's
approval."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from templates_app import categories, services
from templates_app.models import Category, CategoryChange, ContentBlock, Template
from tests.templates_app.conftest import AUTHOR_PERMISSIONS, grant, user_with

pytestmark = pytest.mark.django_db

CATEGORY_STEWARD = ["view_category", "add_category", "change_category"]


def steward(username: str, *, approve: bool = False):
    """A user who may propose category changes and, optionally, approve them."""
    codenames = [*CATEGORY_STEWARD, *(["approve_category_change"] if approve else [])]
    return user_with(username, codenames)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _events(action: str, subject) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=action, object_id=str(subject.pk)).order_by(
            "sequence"
        )
    )


@pytest.fixture
def collections(db) -> Category:
    return categories.category_create(
        actor=None, code="collections", name="Collections", name_ar="التحصيل"
    )


def test_a_kind_change_takes_effect_only_when_someone_else_approves_it(collections):
    proposer = steward("proposer", approve=True)
    approver = steward("approver", approve=True)

    change = categories.category_change_propose(
        category=collections,
        actor=proposer,
        kind=Category.Kind.MANDATORY,
        required_approvals=2,
        reason="Regulator asked for it",
    )

    collections.refresh_from_db()
    assert (collections.kind, collections.required_approvals) == ("service", 1)
    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_change_approve(change=change, actor=proposer)
    assert refused.value.rule == "segregation"
    collections.refresh_from_db()
    assert collections.kind == "service"

    categories.category_change_approve(change=change, actor=approver, comment="ok")

    collections.refresh_from_db()
    assert (collections.kind, collections.required_approvals) == ("mandatory", 2)
    change.refresh_from_db()
    assert change.status == CategoryChange.Status.APPROVED
    assert change.decided_by == approver
    proposed = _events("templates.category.change_proposed", collections)[-1]
    unchanged = {"recertify_months": 0}
    assert proposed.before == {"kind": "service", "required_approvals": 1, **unchanged}
    assert proposed.after == {"kind": "mandatory", "required_approvals": 2, **unchanged}
    assert proposed.reason == "Regulator asked for it"
    approved = _events("templates.category.change_approved", collections)[-1]
    assert approved.actor == approver
    assert approved.before == {"kind": "service", "required_approvals": 1, **unchanged}
    assert approved.after == {"kind": "mandatory", "required_approvals": 2, **unchanged}


def test_approving_a_category_change_needs_the_approval_permission(collections):
    change = categories.category_change_propose(
        category=collections, actor=steward("proposer"), kind="mandatory"
    )

    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_change_approve(change=change, actor=steward("other"))

    assert refused.value.rule == "permission"


def test_a_rejected_or_withdrawn_proposal_changes_nothing(collections):
    proposer = steward("proposer")
    approver = steward("approver", approve=True)
    change = categories.category_change_propose(
        category=collections, actor=proposer, kind="marketing"
    )
    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_change_reject(change=change, actor=approver, comment="")
    assert refused.value.rule == "reason"
    categories.category_change_reject(change=change, actor=approver, comment="No.")
    again = categories.category_change_propose(
        category=collections, actor=proposer, required_approvals=3
    )
    categories.category_change_withdraw(change=again, actor=proposer)

    collections.refresh_from_db()
    assert (collections.kind, collections.required_approvals) == ("service", 1)
    assert _events("templates.category.change_rejected", collections)[0].reason == "No."
    assert _events("templates.category.change_withdrawn", collections)


def test_a_category_has_one_open_proposal_at_a_time(collections):
    proposer = steward("proposer")
    categories.category_change_propose(
        category=collections, actor=proposer, kind="marketing"
    )

    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_change_propose(
            category=collections, actor=steward("other"), kind="mandatory"
        )

    assert refused.value.rule == "state"


def test_a_proposal_that_changes_nothing_is_refused(collections):
    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_change_propose(
            category=collections, actor=steward("proposer"), kind="service"
        )
    assert refused.value.rule == "unchanged"


def test_the_admin_turns_a_kind_change_into_a_proposal(collections):
    proposer = steward("proposer", approve=True)
    client = _client(proposer)
    url = reverse("admin:templates_app_category_change", args=[collections.pk])

    response = client.post(
        url,
        {
            "name": "Collections",
            "name_ar": "التحصيل",
            "kind": "mandatory",
            "required_approvals": 1,
            "recertify_months": 0,
            "change_reason": "All reminders are regulatory now",
            "_continue": "1",
        },
        follow=True,
    )

    assert response.status_code == 200
    collections.refresh_from_db()
    assert collections.kind == "service"
    change = CategoryChange.objects.get(category=collections)
    assert change.kind == "mandatory" and change.proposer == proposer
    assert change.reason == "All reminders are regulatory now"
    page = response.content.decode()
    assert 'id="tpl-category-change"' in page
    assert 'id="tpl-category-change-approve"' not in page  # not for the proposer

    decide = reverse(
        "admin:templates_app_category_change_decide", args=[change.pk, "approve"]
    )
    client.post(decide)
    collections.refresh_from_db()
    assert collections.kind == "service"

    other = _client(steward("approver", approve=True))
    assert 'id="tpl-category-change-approve"' in other.get(url).content.decode()
    other.post(decide)
    collections.refresh_from_db()
    assert collections.kind == "mandatory"


def test_category_create_and_change_in_the_admin_are_audited(db):
    client = _client(steward("steward"))

    client.post(
        reverse("admin:templates_app_category_add"),
        {
            "code": "claims",
            "name": "Claims",
            "name_ar": "",
            "kind": "service",
            "required_approvals": 1,
            "recertify_months": 0,
        },
    )
    claims = Category.objects.get(code="claims")
    client.post(
        reverse("admin:templates_app_category_change", args=[claims.pk]),
        {
            "name": "Claims and benefits",
            "name_ar": "المطالبات",
            "kind": "service",
            "required_approvals": 1,
            "recertify_months": 0,
        },
    )

    (created,) = _events("templates.category.created", claims)
    assert created.before is None
    assert created.after["code"] == "claims" and created.after["kind"] == "service"
    (changed,) = _events("templates.category.changed", claims)
    assert changed.before == {"name": "Claims", "name_ar": ""}
    assert changed.after == {"name": "Claims and benefits", "name_ar": "المطالبات"}
    assert changed.actor.username == "steward"


def test_a_category_code_and_kind_cannot_change_directly(collections):
    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_update(category=collections, actor=None, code="other")
    assert refused.value.rule == "immutable"
    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_update(category=collections, actor=None, kind="mandatory")
    assert refused.value.rule == "four-eyes"
    collections.refresh_from_db()
    assert (collections.code, collections.kind) == ("collections", "service")


def test_template_create_and_change_in_the_admin_are_audited(collections):
    author = grant(
        collections, "author_category", user_with("amal", AUTHOR_PERMISSIONS)
    )
    client = _client(author)
    fields = {
        "code": "welcome",
        "name": "Welcome",
        "category": collections.pk,
        "description": "",
        "channels": ["email"],
        "default_language": "en",
        "data_schema": '{"type": "object", "properties": {"name": {"type": "string"}}}',
        "sample_data": '{"name": "Huda"}',
        "versions-TOTAL_FORMS": 0,
        "versions-INITIAL_FORMS": 0,
    }

    client.post(reverse("admin:templates_app_template_add"), fields)
    welcome = Template.objects.get(code="welcome")
    client.post(
        reverse("admin:templates_app_template_change", args=[welcome.pk]),
        {**fields, "name": "Welcome aboard", "channels": ["email", "sms"]},
    )

    (created,) = _events("templates.template.created", welcome)
    assert created.after["category"] == "collections"
    assert created.after["channels"] == ["email"]
    (changed,) = _events("templates.template.changed", welcome)
    assert changed.before == {"name": "Welcome", "channels": ["email"]}
    assert changed.after == {"name": "Welcome aboard", "channels": ["email", "sms"]}
    assert changed.actor == author


def test_content_block_create_and_change_in_the_admin_are_audited(db):
    editor = user_with(
        "blocks", ["view_contentblock", "add_contentblock", "change_contentblock"]
    )
    client = _client(editor)

    client.post(
        reverse("admin:templates_app_contentblock_add"),
        {
            "code": "signature",
            "name": "Signature",
            "description": "",
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )
    block = ContentBlock.objects.get(code="signature")
    client.post(
        reverse("admin:templates_app_contentblock_change", args=[block.pk]),
        {
            "name": "Signature of the CEO",
            "description": "Closing line",
            "versions-TOTAL_FORMS": 0,
            "versions-INITIAL_FORMS": 0,
        },
    )

    (created,) = _events("templates.content_block.created", block)
    assert created.after == {
        "code": "signature",
        "name": "Signature",
        "name_ar": "",
        "description": "",
        "category": None,
    }
    (changed,) = _events("templates.content_block.changed", block)
    assert changed.before == {"name": "Signature", "description": ""}
    assert changed.after == {
        "name": "Signature of the CEO",
        "description": "Closing line",
    }
    assert changed.actor == editor


def test_roles_can_propose_and_approve_category_changes(db):
    from django.contrib.auth.models import Group

    from ccm.roles import OPERATOR, REVIEWER

    operator = Group.objects.get(name=OPERATOR).permissions
    reviewer = Group.objects.get(name=REVIEWER).permissions
    assert operator.filter(codename="change_category").exists()
    assert reviewer.filter(codename="approve_category_change").exists()
    assert Permission.objects.filter(codename="approve_category_change").exists()


def test_a_category_needs_at_least_one_approval(collections):
    client = _client(steward("proposer"))
    url = reverse("admin:templates_app_category_change", args=[collections.pk])

    response = client.post(
        url,
        {
            "name": "Collections",
            "name_ar": "",
            "kind": "service",
            "required_approvals": 0,
            "recertify_months": 0,
        },
    )

    assert response.status_code == 200
    assert "required_approvals" in response.context["adminform"].form.errors
    assert not CategoryChange.objects.exists()


def test_a_re_certification_period_changes_only_by_an_approved_proposal(
    collections,
):
    proposer, approver = steward("proposer"), steward("approver", approve=True)

    with pytest.raises(services.WorkflowRefused) as refused:
        categories.category_update(
            category=collections, actor=proposer, recertify_months=12
        )
    assert refused.value.rule == "four-eyes"

    change = categories.category_change_propose(
        category=collections, actor=proposer, recertify_months=12, reason="Policy"
    )
    collections.refresh_from_db()
    assert collections.recertify_months == 0

    categories.category_change_approve(change=change, actor=approver)

    collections.refresh_from_db()
    assert collections.recertify_months == 12
    approved = _events("templates.category.change_approved", collections)[-1]
    assert approved.before["recertify_months"] == 0
    assert approved.after["recertify_months"] == 12
