"""Nobody gives a role or a category permission alone: a second operator approves."""

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from audit.models import AuditEvent
from ccm import grants, roles
from ccm.models import RoleGrant
from templates_app import services as template_services
from templates_app.models import Category

pytestmark = pytest.mark.django_db


def _user(username: str, *role_names: str, **extra) -> User:
    user = User.objects.create_user(
        username=username,
        password="correct-horse-battery",  # noqa: S106
        is_staff=True,
        **extra,
    )
    user.groups.set(Group.objects.filter(name__in=role_names))
    return User.objects.get(pk=user.pk)


@pytest.fixture
def operator() -> User:
    return _user("operator", roles.OPERATOR)


@pytest.fixture
def operator_2() -> User:
    return _user("operator-2", roles.OPERATOR)


@pytest.fixture
def reviewer_role() -> Group:
    return Group.objects.get(name=roles.REVIEWER)


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def _actions_since(sequence: int) -> list[str]:
    return list(
        AuditEvent.objects.filter(sequence__gt=sequence)
        .order_by("sequence")
        .values_list("action", flat=True)
    )


def _last_sequence() -> int:
    last = AuditEvent.objects.order_by("-sequence").first()
    return last.sequence if last else 0


def test_an_operator_cannot_approve_their_own_request_for_review_rights(
    operator, operator_2, reviewer_role
):
    since = _last_sequence()
    grant = grants.grant_request(
        actor=operator, user=operator, role=reviewer_role, reason="Cover Q3 audit"
    )
    assert grant.status == RoleGrant.Status.PENDING
    assert not _fresh(operator).groups.filter(pk=reviewer_role.pk).exists()

    with pytest.raises(grants.GrantRefused) as refused:
        grants.grant_approve(grant=grant, actor=operator)
    assert refused.value.rule == "segregation"
    assert not _fresh(operator).groups.filter(pk=reviewer_role.pk).exists()

    grant = grants.grant_approve(grant=grant, actor=operator_2, comment="ok")
    assert grant.status == RoleGrant.Status.APPROVED
    assert grant.decided_by == operator_2
    assert _fresh(operator).has_perm("templates_app.review_contentblock")
    assert _actions_since(since) == [
        "auth.grant.requested",
        "auth.grant.approved",
        "auth.role.granted",
    ]
    with pytest.raises(grants.GrantRefused) as again:
        grants.grant_approve(grant=grant, actor=operator_2)
    assert again.value.rule == "state"


def test_the_user_receiving_a_grant_may_not_approve_it(
    operator, operator_2, reviewer_role
):
    grant = grants.grant_request(
        actor=operator, user=operator_2, role=reviewer_role, reason="Backup reviewer"
    )
    with pytest.raises(grants.GrantRefused) as refused:
        grants.grant_approve(grant=grant, actor=operator_2)
    assert refused.value.rule == "segregation"
    third = _user("operator-3", roles.OPERATOR)
    grants.grant_approve(grant=grant, actor=third)
    assert _fresh(operator_2).groups.filter(pk=reviewer_role.pk).exists()


def test_requests_need_a_reason_and_the_right_and_refusals_a_reason(
    operator, operator_2, reviewer_role
):
    agent = _user("agent", roles.AGENT)
    with pytest.raises(grants.GrantRefused) as refused:
        grants.grant_request(actor=agent, user=agent, role=reviewer_role, reason="x")
    assert refused.value.rule == "permission"
    with pytest.raises(grants.GrantRefused) as refused:
        grants.grant_request(actor=operator, user=agent, role=reviewer_role, reason="")
    assert refused.value.rule == "reason"

    grant = grants.grant_request(
        actor=operator, user=agent, role=reviewer_role, reason="Temporary"
    )
    with pytest.raises(grants.GrantRefused):
        grants.grant_refuse(grant=grant, actor=operator_2, comment=" ")
    grant = grants.grant_refuse(grant=grant, actor=operator_2, comment="No need")
    assert grant.status == RoleGrant.Status.REFUSED
    assert not _fresh(agent).groups.filter(pk=reviewer_role.pk).exists()
    with pytest.raises(grants.GrantRefused):
        grants.grant_approve(grant=grant, actor=_user("op3", roles.OPERATOR))


def test_a_category_review_permission_applies_only_once_another_operator_approves(
    operator, operator_2
):
    category = Category.objects.create(code="cards", name="Cards")
    with pytest.raises(template_services.AuthoringForbidden):
        template_services.category_permission_grant(
            category=category,
            permission="review_category",
            user=operator,
            actor=operator,
        )
    assert not _fresh(operator).has_perm("templates_app.review_category", category)

    grant = grants.grant_request(
        actor=operator,
        user=operator,
        category=category,
        permission="review_category",
        reason="Cards launch",
    )
    with pytest.raises(grants.GrantRefused):
        grants.grant_approve(grant=grant, actor=operator)
    grants.grant_approve(grant=grant, actor=operator_2)

    assert _fresh(operator).has_perm("templates_app.review_category", category)
    event = AuditEvent.objects.get(action="auth.permission.granted")
    assert event.actor_id == operator_2.pk


def test_an_operator_cannot_give_themselves_a_role_or_superuser_in_the_user_form(
    client, operator, reviewer_role
):
    """The finding: an operator's own user form gave them review rights."""
    client.force_login(operator)
    url = reverse("admin:auth_user_change", args=[operator.pk])
    page = client.get(url)
    assert page.status_code == 200

    response = client.post(
        url,
        {
            "username": operator.username,
            "is_active": "on",
            "is_staff": "on",
            "is_superuser": "on",
            "groups": [reviewer_role.pk, Group.objects.get(name=roles.OPERATOR).pk],
            "user_permissions": [
                Permission.objects.get(codename="review_contentblock").pk
            ],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    operator = _fresh(operator)
    assert not operator.is_superuser
    assert not operator.groups.filter(pk=reviewer_role.pk).exists()
    assert not operator.user_permissions.exists()
    assert not operator.has_perm("templates_app.review_contentblock")
    assert response.status_code == 200  # the form, with the refused choice named
    assert "Select a valid choice" in response.content.decode()


def test_an_operator_takes_a_role_away_in_the_user_form_and_it_is_audited(
    client, operator, reviewer_role
):
    reviewer = _user("reviewer", roles.REVIEWER)
    client.force_login(operator)
    response = client.post(
        reverse("admin:auth_user_change", args=[reviewer.pk]),
        {
            "username": "reviewer",
            "is_active": "on",
            "is_staff": "on",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert not _fresh(reviewer).groups.exists()
    event = AuditEvent.objects.get(action="auth.role.revoked")
    assert event.actor_id == operator.pk
    assert event.before == {"user": "reviewer", "role": roles.REVIEWER}


def test_an_operator_cannot_edit_a_superuser_or_the_roles_permissions(client, operator):
    admin_user = _user("root", is_superuser=True)
    client.force_login(operator)
    response = client.post(
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        {"username": "root", "email": "attacker@example.com"},
    )
    assert response.status_code == 403
    assert _fresh(admin_user).email == ""
    group = Group.objects.get(name=roles.REVIEWER)
    page = client.get(reverse("admin:auth_group_change", args=[group.pk]))
    assert 'name="permissions"' not in page.content.decode()


def test_a_grant_is_requested_and_approved_in_the_admin_by_two_operators(
    client, operator, operator_2, reviewer_role
):
    client.force_login(operator)
    response = client.post(
        reverse("admin:ccm_rolegrant_add"),
        {"user": operator.pk, "role": reviewer_role.pk, "reason": "Cover leave"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    grant = RoleGrant.objects.get()
    change = reverse("admin:ccm_rolegrant_change", args=[grant.pk])
    own = client.get(change).content.decode()
    assert 'id="ccm-grant-approve"' not in own
    refused = client.post(
        reverse("admin:ccm_rolegrant_decide", args=[grant.pk, "approve"]),
        follow=True,
    )
    assert "Segregation of duties" in refused.content.decode()
    assert not _fresh(operator).groups.filter(pk=reviewer_role.pk).exists()

    client.force_login(operator_2)
    assert 'id="ccm-grant-approve"' in client.get(change).content.decode()
    client.post(
        reverse("admin:ccm_rolegrant_decide", args=[grant.pk, "approve"]),
        {"comment": "Agreed"},
    )
    assert _fresh(operator).groups.filter(pk=reviewer_role.pk).exists()


def test_the_admin_names_a_grant_already_held(client, operator, operator_2):
    client.force_login(operator)
    response = client.post(
        reverse("admin:ccm_rolegrant_add"),
        {
            "user": operator_2.pk,
            "role": Group.objects.get(name=roles.OPERATOR).pk,
            "reason": "again",
        },
    )
    assert response.status_code == 200
    assert "already holds it" in response.content.decode()
    assert not RoleGrant.objects.exists()


def test_an_operator_cannot_set_another_approvers_password(
    client, operator, operator_2
):
    """Otherwise a requester could sign in as a second operator and approve."""
    agent = _user("agent", roles.AGENT)
    client.force_login(operator)
    new = {"password1": "Another-long-pass-93", "password2": "Another-long-pass-93"}

    refused = client.post(
        reverse("admin:auth_user_password_change", args=[operator_2.pk]), new
    )
    assert refused.status_code == 403
    assert _fresh(operator_2).check_password("correct-horse-battery")

    allowed = client.post(
        reverse("admin:auth_user_password_change", args=[agent.pk]), new
    )
    assert allowed.status_code == 302
    assert _fresh(agent).check_password("Another-long-pass-93")
