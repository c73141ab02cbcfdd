"""Every write of template authoring: the public names, and category permissions.

The writes live in modules by concern — `drafting` (templates and drafts),
`blocks` (content blocks), `workflow` (submit, withdraw, approve, reject,
retire for template and block versions alike), `supersession` (effective
ranges), `hashing` — and are offered here under the names other apps call.
"""

from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from audit.services import event_record
from templates_app import selectors
from templates_app.blocks import (
    BLOCK_AUDIT_FIELDS,
    RedraftResult,
    block_content_problems,
    block_content_save,
    block_dependents_redraft,
    block_draft_create,
    block_save,
)
from templates_app.drafting import (
    TEMPLATE_AUDIT_FIELDS,
    blocks_by_language,
    contents_of,
    template_save,
    template_snapshot,
    version_content_save,
    version_draft_create,
    version_schedule_set,
    version_test_send,
    version_validate,
)
from templates_app.errors import (
    AuthoringError,
    AuthoringForbidden,
    VersionInvalid,
    VersionNotEditable,
    WorkflowRefused,
)
from templates_app.hashing import (
    _digest,
    block_version_hash,
    version_hash,
    version_hash_ok,
    version_verification_load,
)
from templates_app.models import Category
from templates_app.supersession import versions_supersede_due
from templates_app.workflow import (
    block_approve,
    block_reject,
    block_retire,
    block_submit,
    block_withdraw,
    version_approve,
    version_reject,
    version_retire,
    version_submit,
    version_withdraw,
)

__all__ = [
    "BLOCK_AUDIT_FIELDS",
    "TEMPLATE_AUDIT_FIELDS",
    "AuthoringError",
    "AuthoringForbidden",
    "RedraftResult",
    "VersionInvalid",
    "VersionNotEditable",
    "WorkflowRefused",
    "_digest",
    "block_approve",
    "block_content_problems",
    "block_content_save",
    "block_dependents_redraft",
    "block_draft_create",
    "block_reject",
    "block_retire",
    "block_save",
    "block_submit",
    "block_version_hash",
    "block_withdraw",
    "blocks_by_language",
    "category_permission_grant",
    "category_permission_revoke",
    "contents_of",
    "template_save",
    "template_snapshot",
    "version_approve",
    "version_content_save",
    "version_draft_create",
    "version_hash",
    "version_hash_ok",
    "version_verification_load",
    "version_reject",
    "version_retire",
    "version_schedule_set",
    "version_submit",
    "version_test_send",
    "version_validate",
    "version_withdraw",
    "versions_supersede_due",
]


def _grantee(user: AbstractBaseUser | None, group: Group | None):
    if (user is None) == (group is None):
        raise ValueError("Grant to exactly one user or one group.")
    return user if user is not None else group


def _category_permission_check(permission: str) -> str:
    if permission not in selectors.CATEGORY_PERMISSIONS:
        raise AuthoringError(
            _("Unknown category permission %(permission)s.")
            % {"permission": permission}
        )
    return permission


def _category_permission_change(
    *,
    grant: bool,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None,
    group: Group | None,
    approved=None,
) -> None:
    _category_permission_check(permission)
    grantee = _grantee(user, group)
    if actor is not None and not actor.has_perm(
        "templates_app.manage_category_permissions"
    ):
        message = (
            _("%(user)s may not grant category permissions.")
            if grant
            else _("%(user)s may not revoke category permissions.")
        )
        raise AuthoringForbidden(message % {"user": actor})
    if grant and actor is not None and not _second_operator_approved(approved, actor):
        raise AuthoringForbidden(
            _(
                "A category permission is granted only once a second operator "
                "approves the request (Role grants)."
            )
        )
    codename = f"templates_app.{permission}"
    held = {
        "permission": codename,
        "user" if user is not None else "group": str(grantee),
    }
    if approved is not None:
        held["grant"] = approved.pk
    with transaction.atomic():
        if grant:
            assign_perm(codename, grantee, category)
        else:
            remove_perm(codename, grantee, category)
        event_record(
            action="auth.permission.granted" if grant else "auth.permission.revoked",
            actor=actor,
            subject=category,
            before=None if grant else held,
            after=held if grant else None,
        )


def _second_operator_approved(approved, actor: AbstractBaseUser) -> bool:
    """Return whether `approved` is a grant request `actor` approved for another."""
    return (
        approved is not None
        and approved.status == "approved"
        and approved.decided_by_id == actor.pk
        and approved.requested_by_id != actor.pk
    )


def category_permission_grant(
    *,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
    grant=None,
) -> None:
    """Let a user or group author or review in one category, and audit it.

    A person (`actor`) grants only by approving another operator's request,
    passed as `grant` (`ccm.grants.grant_approve`); without an actor it is the
    system's own grant (migrations, demo data).
    """
    _category_permission_change(
        grant=True,
        category=category,
        permission=permission,
        actor=actor,
        user=user,
        group=group,
        approved=grant,
    )


def category_permission_revoke(
    *,
    category: Category,
    permission: str,
    actor: AbstractBaseUser | None,
    user: AbstractBaseUser | None = None,
    group: Group | None = None,
) -> None:
    """Withdraw a user's or group's category permission, and audit it."""
    _category_permission_change(
        grant=False,
        category=category,
        permission=permission,
        actor=actor,
        user=user,
        group=group,
    )
