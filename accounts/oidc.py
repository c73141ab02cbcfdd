"""Single sign-on over OpenID Connect: directory groups name the roles.

On when OIDC_RP_CLIENT_ID is set (ccm/settings.py). The provider's user is
matched by OIDC_USERNAME_CLAIM to a user of the same name (created on first
sign-in); at every sign-in their role groups become exactly the roles their
directory groups (claim OIDC_GROUPS_CLAIM) map to through OIDC_GROUP_ROLES,
and a directory user none of whose groups maps to a role is refused.
"""

import logging

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend

from ccm import roles

log = logging.getLogger(__name__)

# The roles a directory group may grant: people's roles, not the API client's.
SIGN_IN_ROLES = (
    roles.AUTHOR,
    roles.REVIEWER,
    roles.AGENT,
    roles.OPERATOR,
    roles.RECORDS_MANAGER,
)


def group_roles_parse(text: str) -> dict[str, str]:
    """Parse "directory group=Role;other group=Role" into {group: role}.

    A directory group may hold "=" and "," (an LDAP DN): each pair splits at
    its last "=", pairs at ";".
    """
    mapping = {}
    for pair in text.split(";"):
        if not pair.strip():
            continue
        group, sep, role = pair.rpartition("=")
        group, role = group.strip(), role.strip()
        if not sep or not group:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_ROLES: {pair.strip()!r} is not 'directory group=Role'"
            )
        if role not in SIGN_IN_ROLES:
            raise ImproperlyConfigured(
                f"OIDC_GROUP_ROLES: {role!r} is not a role "
                f"(one of {', '.join(SIGN_IN_ROLES)})"
            )
        mapping[group] = role
    return mapping


def roles_from_claims(claims: dict, mapping: dict[str, str], claim: str) -> set[str]:
    """The roles the claims' directory groups map to (unknown groups: none)."""
    groups = claims.get(claim) or []
    if isinstance(groups, str):
        groups = [groups]
    if not isinstance(groups, list):
        return set()
    return {
        mapping[group]
        for group in groups
        if isinstance(group, str) and group in mapping
    }


def provider_asserted_mfa(claims: dict) -> bool:
    """Whether the ID token's `amr` (RFC 8176) names a second factor we accept."""
    if not settings.OIDC_TRUST_PROVIDER_MFA:
        return False
    amr = claims.get("amr") or []
    if isinstance(amr, str):
        amr = [amr]
    return isinstance(amr, list) and bool(set(amr) & set(settings.OIDC_MFA_AMR))


class RoleMappingBackend(OIDCAuthenticationBackend):
    def _verify_jws(self, payload, key):
        """The signature (the library), then what it leaves unchecked: the
        token is for this client, from the configured issuer, and expires."""
        claims = super()._verify_jws(payload, key)
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.OIDC_RP_CLIENT_ID not in audiences:
            raise SuspiciousOperation("ID token issued for another client")
        issuer = settings.OIDC_OP_ISSUER
        if issuer and claims.get("iss") != issuer:
            raise SuspiciousOperation("ID token from another issuer")
        if "exp" not in claims:
            raise SuspiciousOperation("ID token without an expiry")
        return claims

    def _claims(self, user_info: dict) -> dict:
        return {**getattr(self, "_id_claims", {}), **user_info}

    def get_or_create_user(self, access_token, id_token, payload):
        self._id_claims = payload or {}
        return super().get_or_create_user(access_token, id_token, payload)

    def _username(self, claims: dict) -> str:
        value = claims.get(settings.OIDC_USERNAME_CLAIM)
        return value.strip() if isinstance(value, str) else ""

    def _roles(self, claims: dict) -> set[str]:
        mapping = group_roles_parse(settings.OIDC_GROUP_ROLES)
        return roles_from_claims(claims, mapping, settings.OIDC_GROUPS_CLAIM)

    def verify_claims(self, claims):
        claims = self._claims(claims)
        if not self._username(claims):
            log.warning(
                "oidc sign-in refused: no %s claim", settings.OIDC_USERNAME_CLAIM
            )
            return False
        if not self._roles(claims):
            log.warning("oidc sign-in refused: no directory group maps to a role")
            return False
        return True

    def filter_users_by_claims(self, claims):
        username = self._username(self._claims(claims))
        return self.UserModel.objects.filter(username=username)

    def create_user(self, claims):
        claims = self._claims(claims)
        user = self.UserModel.objects.create_user(
            self._username(claims), email=claims.get("email") or ""
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
        return self.update_user(user, claims)

    @transaction.atomic
    def update_user(self, user, claims):
        claims = self._claims(claims)
        granted = self._roles(claims)
        kept = user.groups.exclude(name__in=SIGN_IN_ROLES)
        user.groups.set([*kept, *Group.objects.filter(name__in=granted)])
        user.first_name = str(claims.get("given_name") or user.first_name)[:150]
        user.last_name = str(claims.get("family_name") or user.last_name)[:150]
        user.email = str(claims.get("email") or user.email)[:254]
        user.is_staff = True
        user.save(update_fields=["first_name", "last_name", "email", "is_staff"])
        user.ccm_provider_mfa = provider_asserted_mfa(claims)
        return user
