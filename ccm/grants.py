"""Role and category-permission grants: one operator asks, another approves.

An operator may not give anyone — least of all themselves — a role (Reviewer,
Operator, …) or a category's author or review permission alone. A grant is
requested (`grant_request`), and applied only when an operator other than the
requester and the grantee approves it (`grant_approve`): the membership or the
django-guardian permission is written in the same transaction as the approval
and its audit events. Taking a role away needs no second operator
(`role_revoke`); it is audited all the same.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import get_perms

from audit.services import event_record
from ccm.models import RoleGrant
from templates_app import services as template_services

REQUEST = "ccm.add_rolegrant"
APPROVE = "ccm.approve_rolegrant"


class GrantRefused(Exception):
    """A grant request or decision was refused; `rule` names the rule it broke."""

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


def _described(grant: RoleGrant) -> dict:
    """Return what a grant gives, to whom, as the audit trail keeps it."""
    described = {
        "grant": grant.pk,
        "user" if grant.user_id else "group": str(grant.user or grant.group),
        "requested_by": str(grant.requested_by),
    }
    if grant.role_id:
        described["role"] = grant.role.name
    else:
        described["category"] = grant.category.code
        described["permission"] = f"templates_app.{grant.permission}"
    return described


def _held(grant: RoleGrant) -> bool:
    if grant.role_id:
        return grant.user.groups.filter(pk=grant.role_id).exists()
    grantee = grant.user or grant.group
    codename = f"templates_app.{grant.permission}"
    if grant.user_id:
        # A fresh instance: permission checks cache per user object.
        grantee = type(grantee).objects.get(pk=grantee.pk)
        return grantee.has_perm(codename, grant.category)
    return grant.permission in get_perms(grantee, grant.category)


def grant_request_check(grant: RoleGrant, actor: AbstractBaseUser) -> None:
    """Refuse a request the actor may not make, or for what is already held.

    The grant's shape (`RoleGrant.clean`) is checked first.
    """
    if not (actor.is_active and actor.has_perm(REQUEST)):
        raise GrantRefused(
            _("%(user)s may not request roles or permissions.") % {"user": actor},
            rule="permission",
        )
    if not grant.reason.strip():
        raise GrantRefused(_("Say why the grant is needed."), rule="reason")
    grant.clean()
    if _held(grant):
        raise GrantRefused(
            _("%(grantee)s already holds it.") % {"grantee": grant.user or grant.group},
            rule="held",
        )


def grant_request(
    *,
    actor: AbstractBaseUser,
    reason: str,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
    role: Group | None = None,
    category=None,
    permission: str = "",
) -> RoleGrant:
    """Ask for a role for a user, or a category permission for a user or group."""
    grant = RoleGrant(
        user=user,
        group=group,
        role=role,
        category=category,
        permission=permission,
        reason=(reason or "").strip(),
        requested_by=actor,
    )
    with transaction.atomic():
        grant_request_check(grant, actor)
        grant.full_clean()
        grant.save()
        event_record(
            action="auth.grant.requested",
            actor=actor,
            subject=grant,
            after=_described(grant),
            reason=grant.reason,
        )
    return grant


def _decision_check(grant: RoleGrant, actor: AbstractBaseUser, target: str) -> None:
    if target not in RoleGrant.TRANSITIONS[grant.status]:
        raise GrantRefused(
            _("%(grant)s is already decided.") % {"grant": grant}, rule="state"
        )
    if not (actor.is_active and actor.has_perm(APPROVE)):
        raise GrantRefused(
            _("%(user)s may not decide role grants.") % {"user": actor},
            rule="permission",
        )


def grant_approve(
    *, grant: RoleGrant, actor: AbstractBaseUser, comment: str = ""
) -> RoleGrant:
    """Approve another operator's request and apply the grant at once.

    Refused to the requester, to the grantee, and to a member of the group
    that would receive the permission: a second pair of eyes must be another's.
    """
    with transaction.atomic():
        grant = (
            RoleGrant.objects.select_for_update(of=("self",))
            .select_related("user", "group", "role", "category", "requested_by")
            .get(pk=grant.pk)
        )
        _decision_check(grant, actor, RoleGrant.Status.APPROVED)
        if actor.pk == grant.requested_by_id:
            raise GrantRefused(
                _(
                    "Segregation of duties: %(user)s requested this grant; "
                    "another operator must approve it."
                )
                % {"user": actor},
                rule="segregation",
            )
        if actor.pk == grant.user_id or (
            grant.group_id and actor.groups.filter(pk=grant.group_id).exists()
        ):
            raise GrantRefused(
                _(
                    "Segregation of duties: %(user)s would receive this grant "
                    "and may not approve it."
                )
                % {"user": actor},
                rule="segregation",
            )
        grant.status = RoleGrant.Status.APPROVED
        grant.decided_by = actor
        grant.decided_at = timezone.now()
        grant.comment = (comment or "").strip()
        grant.save(update_fields=["status", "decided_by", "decided_at", "comment"])
        event_record(
            action="auth.grant.approved",
            actor=actor,
            subject=grant,
            before={"status": RoleGrant.Status.PENDING},
            after={**_described(grant), "status": grant.status},
            reason=grant.comment,
        )
        if grant.role_id:
            grant.user.groups.add(grant.role)
            event_record(
                action="auth.role.granted",
                actor=actor,
                subject=grant.user,
                after=_described(grant),
                reason=grant.reason,
            )
        else:
            template_services.category_permission_grant(
                category=grant.category,
                permission=grant.permission,
                user=grant.user,
                group=grant.group,
                actor=actor,
                grant=grant,
            )
    return grant


def grant_refuse(
    *, grant: RoleGrant, actor: AbstractBaseUser, comment: str
) -> RoleGrant:
    """Refuse a request, with the reason; its requester may also withdraw it so."""
    comment = (comment or "").strip()
    if not comment:
        raise GrantRefused(_("A refusal needs a reason."), rule="reason")
    with transaction.atomic():
        grant = (
            RoleGrant.objects.select_for_update(of=("self",))
            .select_related("user", "group", "role", "category", "requested_by")
            .get(pk=grant.pk)
        )
        if (
            grant.status == RoleGrant.Status.PENDING
            and actor.pk == grant.requested_by_id
        ):
            pass  # withdrawing one's own request needs no approval right
        else:
            _decision_check(grant, actor, RoleGrant.Status.REFUSED)
        grant.status = RoleGrant.Status.REFUSED
        grant.decided_by = actor
        grant.decided_at = timezone.now()
        grant.comment = comment
        grant.save(update_fields=["status", "decided_by", "decided_at", "comment"])
        event_record(
            action="auth.grant.refused",
            actor=actor,
            subject=grant,
            before={"status": RoleGrant.Status.PENDING},
            after={**_described(grant), "status": grant.status},
            reason=comment,
        )
    return grant


def role_revoke(
    *, user: AbstractBaseUser, role: Group, actor: AbstractBaseUser | None
) -> None:
    """Take a role away from a user at once, and audit it."""
    with transaction.atomic():
        if not user.groups.filter(pk=role.pk).exists():
            return
        user.groups.remove(role)
        event_record(
            action="auth.role.revoked",
            actor=actor,
            subject=user,
            before={"user": str(user), "role": role.name},
        )


def role_granted_directly(
    *, user: AbstractBaseUser, role: Group, actor: AbstractBaseUser
) -> None:
    """Audit a role a superuser gave in the user form, outside the grant requests."""
    event_record(
        action="auth.role.granted",
        actor=actor,
        subject=user,
        after={"user": str(user), "role": role.name, "by": "superuser"},
    )
