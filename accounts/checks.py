from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from ccm import roles


@register()
def sign_in_settings(app_configs, **kwargs):
    errors = []
    known = set(roles.ROLE_LABELS)
    for role in settings.MFA_REQUIRED_ROLES:
        if role not in known:
            errors.append(
                Error(
                    f"MFA_REQUIRED_ROLES names {role!r}, which is not a role",
                    hint=f"Roles: {', '.join(sorted(known))}",
                    id="accounts.E001",
                )
            )
    if settings.OIDC_ENABLED:
        from accounts.oidc import group_roles_parse

        try:
            if not group_roles_parse(settings.OIDC_GROUP_ROLES):
                errors.append(
                    Error(
                        "OIDC_GROUP_ROLES is empty: no directory user could sign in",
                        id="accounts.E002",
                    )
                )
        except ImproperlyConfigured as exc:
            errors.append(Error(str(exc), id="accounts.E003"))
    return errors
