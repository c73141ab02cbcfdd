"""Re-certification: approvals expire after the category's period, flagged until
a reviewer re-certifies the version unchanged or a new version replaces it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from inventory.analysis import inventory_analyse
from inventory.models import InventoryItem
from templates_app import categories, recertification, selectors, services
from templates_app.models import Recertification
from tests.inventory.conftest import email

pytestmark = pytest.mark.django_db


@pytest.fixture
def twelve_months(category, operator, reviewer):
    change = categories.category_change_propose(
        category=category, actor=operator, recertify_months=12, reason="Regulator"
    )
    categories.category_change_approve(change=change, actor=reviewer)
    category.refresh_from_db()
    return category


def _approved(template_make, author, reviewer, code: str, *, months_ago: int):
    template = template_make(
        code,
        {("email", "en"): email("Your notice", "A regulatory notice with words.")},
    )
    version = template.versions.get()
    services.version_submit(version=version, actor=author)
    services.version_approve(version=version, actor=reviewer)
    version.refresh_from_db()
    version.decided_at = timezone.now() - timedelta(days=months_ago * 31)
    version.save(update_fields=["decided_at"])
    return version


@pytest.fixture
def versions(twelve_months, template_make, author, reviewer):
    return {
        "expired": _approved(template_make, author, reviewer, "old", months_ago=13),
        "due": _approved(template_make, author, reviewer, "soon", months_ago=11),
        "valid": _approved(template_make, author, reviewer, "fresh", months_ago=1),
    }


def test_versions_past_the_period_are_expired_and_those_near_it_due(versions):
    now = timezone.now()
    rows = {v.template.code: until for v, until in recertification.versions_expiring()}

    assert set(rows) == {"old", "soon"}
    assert rows["old"] <= now < rows["soon"]
    assert (
        selectors.version_in_force(versions["expired"].template) == versions["expired"]
    )


def test_re_certifying_renews_the_approval_without_changing_content(versions, reviewer):
    version = versions["expired"]
    content_hash = version.content_hash

    recertification.version_recertify(
        version=version, actor=reviewer, comment="Still matches the policy."
    )

    version.refresh_from_db()
    assert version.status == "approved" and version.content_hash == content_hash
    assert version.number == 1
    until = recertification.certified_until([version])[version.pk]
    assert until > timezone.now() + timedelta(days=360)
    assert "old" not in {
        v.template.code for v, _until in recertification.versions_expiring()
    }
    event = AuditEvent.objects.filter(action="templates.version.recertified").get()
    assert event.actor == reviewer
    assert event.after["content_hash"] == content_hash
    assert event.reason == "Still matches the policy."


def test_the_author_and_non_reviewers_may_not_re_certify(versions, author, operator):
    for actor, rule in ((author, "permission"), (operator, "permission")):
        with pytest.raises(services.WorkflowRefused) as refused:
            recertification.version_recertify(version=versions["expired"], actor=actor)
        assert refused.value.rule == rule
    assert not Recertification.objects.exists()


def test_a_reviewer_who_wrote_the_version_may_not_re_certify_it(
    versions, reviewer, author
):
    from django.contrib.auth.models import Permission

    author.user_permissions.add(Permission.objects.get(codename="review_category"))
    author = type(author).objects.get(pk=author.pk)

    with pytest.raises(services.WorkflowRefused) as refused:
        recertification.version_recertify(version=versions["expired"], actor=author)

    assert refused.value.rule == "segregation"


def test_the_inventory_flags_expired_versions(client, operator, versions):
    inventory_analyse()
    client.force_login(operator)

    page = client.get("/admin/inventory/inventoryitem/", {"certification": "expired"})

    assert [item.code for item in page.context["cl"].result_list] == ["old"]
    assert InventoryItem.objects.get(code="fresh").certified_until > timezone.now()


def test_the_review_queue_flags_and_re_certifies_expired_versions(
    client, reviewer, versions
):
    client.force_login(reviewer)
    url = "/admin/templates_app/templateversion/"

    page = client.get(url, {"certification": "expired"})
    assert [v.template.code for v in page.context["cl"].result_list] == ["old"]
    assert "Expired: re-certify" in page.content.decode()

    dashboard = client.get("/admin/")
    assert 'id="tpl-recertification-expired"' in dashboard.content.decode()

    client.post(
        url,
        {
            "action": "recertify_versions",
            "_selected_action": [versions["expired"].pk],
        },
    )

    assert Recertification.objects.filter(version=versions["expired"]).exists()
    page = client.get(url, {"certification": "expired"})
    assert list(page.context["cl"].result_list) == []


def test_awaiting_my_review_lists_what_is_due_for_re_certification(
    client, reviewer, author, versions
):
    client.force_login(reviewer)

    page = client.get("/admin/templates_app/templateversion/review-queue/")

    assert page.status_code == 200
    due = [(v.template.code, state) for v, _until, state in page.context["recertify"]]
    assert due == [("old", "expired"), ("soon", "due")]
    assert 'id="tpl-recertify"' in page.content.decode()

    recertification.version_recertify(version=versions["expired"], actor=reviewer)
    page = client.get("/admin/templates_app/templateversion/review-queue/")
    assert [v.template.code for v, _u, _s in page.context["recertify"]] == ["soon"]
    # The versions' own author is not asked to re-certify them.
    assert recertification.recertifications_due_for(author) == []


def test_a_new_version_in_force_replaces_the_expired_one(versions, author, reviewer):
    old = versions["expired"]
    draft = services.version_draft_create(template=old.template, author=author)
    services.version_submit(version=draft, actor=author)
    services.version_approve(version=draft, actor=reviewer)

    codes = {v.template.code for v, _until in recertification.versions_expiring()}

    assert "old" not in codes
