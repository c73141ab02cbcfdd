"""Single sign-on over OpenID Connect: directory groups name the roles.

The whole code flow runs against a tiny provider on loopback
(tests/accounts/oidc_provider.py): authorize redirect, token, JWKS,
userinfo, then the app's own second-factor rule.
"""

import os
import subprocess
import sys
from urllib.parse import parse_qs, urlparse

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from accounts.oidc import group_roles_parse, roles_from_claims
from ccm import roles
from tests.accounts.oidc_provider import Provider

MAPPING = (
    "ccm-compliance=Reviewer;cn=ccm-ops,ou=groups,dc=bank=Operator;ccm-authors=Author"
)


def test_the_mapping_splits_pairs_at_semicolons_and_each_at_its_last_equals():
    assert group_roles_parse(MAPPING) == {
        "ccm-compliance": roles.REVIEWER,
        "cn=ccm-ops,ou=groups,dc=bank": roles.OPERATOR,
        "ccm-authors": roles.AUTHOR,
    }
    assert group_roles_parse("") == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("ccm-ops=Operators", "'Operators' is not a role"),
        ("ccm-api=API client", "'API client' is not a role"),
        ("ccm-ops", "is not 'directory group=Role'"),
        ("=Operator", "is not 'directory group=Role'"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_the_problem(text, problem):
    with pytest.raises(ImproperlyConfigured, match=problem):
        group_roles_parse(text)


def test_claims_map_to_roles_and_unknown_groups_to_none():
    mapping = group_roles_parse(MAPPING)

    assert roles_from_claims(
        {"groups": ["ccm-compliance", "cn=ccm-ops,ou=groups,dc=bank", "staff"]},
        mapping,
        "groups",
    ) == {roles.REVIEWER, roles.OPERATOR}
    assert roles_from_claims({"groups": "ccm-authors"}, mapping, "groups") == {
        roles.AUTHOR
    }
    assert roles_from_claims({"groups": ["staff"]}, mapping, "groups") == set()
    assert roles_from_claims({"groups": {"x": 1}}, mapping, "groups") == set()
    assert roles_from_claims({}, mapping, "groups") == set()


def _settings_of(env: dict) -> subprocess.CompletedProcess:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "from django.urls import reverse; "
        "print(settings.AUTHENTICATION_BACKENDS); "
        "print(reverse('oidc_authentication_init'))"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "ccm.settings", **env},
        capture_output=True,
        text=True,
        cwd=django_settings.BASE_DIR,
        timeout=120,
    )


OIDC_ENV = {
    "OIDC_RP_CLIENT_ID": "ccm",
    "OIDC_RP_CLIENT_SECRET": "s3cret",
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "https://idp.example/authorize",
    "OIDC_OP_TOKEN_ENDPOINT": "https://idp.example/token",
    "OIDC_OP_USER_ENDPOINT": "https://idp.example/userinfo",
    "OIDC_OP_JWKS_ENDPOINT": "https://idp.example/jwks",
    "OIDC_GROUP_ROLES": MAPPING,
}


def test_single_sign_on_is_off_unless_its_client_id_is_set():
    off = _settings_of({"OIDC_RP_CLIENT_ID": ""})
    assert "accounts.oidc.RoleMappingBackend" not in off.stdout
    assert "NoReverseMatch" in off.stderr

    on = _settings_of(OIDC_ENV)
    assert on.returncode == 0, on.stderr
    assert "accounts.oidc.RoleMappingBackend" in on.stdout
    assert "/oidc/authenticate/" in on.stdout

    partial = _settings_of({**OIDC_ENV, "OIDC_OP_TOKEN_ENDPOINT": ""})
    assert "OIDC_OP_TOKEN_ENDPOINT must be set with OIDC_RP_CLIENT_ID" in partial.stderr


@pytest.fixture
def provider(settings):
    with Provider(client_id="ccm") as idp:
        settings.OIDC_ENABLED = True
        settings.OIDC_RP_CLIENT_ID = "ccm"
        settings.OIDC_RP_CLIENT_SECRET = "s3cret"
        settings.OIDC_RP_SIGN_ALGO = "RS256"
        settings.OIDC_RP_SCOPES = "openid email profile"
        settings.OIDC_USE_PKCE = True
        settings.OIDC_OP_ISSUER = idp.url
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{idp.url}/authorize"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{idp.url}/token"
        settings.OIDC_OP_USER_ENDPOINT = f"{idp.url}/userinfo"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{idp.url}/jwks"
        settings.OIDC_GROUP_ROLES = MAPPING
        settings.AUTHENTICATION_BACKENDS = [
            settings.AUTHENTICATION_BACKENDS[0],
            "accounts.oidc.RoleMappingBackend",
            *settings.AUTHENTICATION_BACKENDS[1:],
        ]
        yield idp


def _single_sign_on(client, idp, next_url="/admin/"):
    start = client.get(f"/oidc/authenticate/?next={next_url}")
    assert start.status_code == 302
    authorize = urlparse(start["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == (
        f"{idp.url}/authorize"
    )
    query = parse_qs(authorize.query)
    assert query["code_challenge_method"] == ["S256"]
    idp.nonce = query["nonce"][0]
    return client.get(f"/oidc/callback/?code=c-1&state={query['state'][0]}")


pytestmark_urls = pytest.mark.urls("tests.accounts.oidc_urls")


@pytestmark_urls
@pytest.mark.django_db
def test_a_directory_reviewer_signs_in_with_their_role_then_gives_our_code(
    client, provider
):
    provider.claims = {
        "sub": "u-1",
        "preferred_username": "rania",
        "email": "rania@bank.example",
        "given_name": "Rania",
        "groups": ["ccm-compliance", "all-staff"],
    }

    done = _single_sign_on(client, provider)

    assert done.status_code == 302
    assert done["Location"] == "/admin/"
    user = get_user_model().objects.get(username="rania")
    assert set(user.groups.values_list("name", flat=True)) == {roles.REVIEWER}
    assert user.is_staff and not user.has_usable_password()
    # A Reviewer gives our second factor (no app yet: enrolment first).
    held = client.get("/admin/")
    assert held.status_code == 302
    assert held["Location"].startswith("/account/second-factor/enrol/")


@pytestmark_urls
@pytest.mark.django_db
def test_roles_follow_the_directory_at_each_sign_in(client, provider):
    from tests.factories import user_build

    user = user_build(username="rania", role=roles.OPERATOR)
    provider.claims = {"preferred_username": "rania", "groups": ["ccm-authors"]}

    _single_sign_on(client, provider)

    user.refresh_from_db()
    assert set(user.groups.values_list("name", flat=True)) == {roles.AUTHOR}
    assert client.get("/admin/").status_code == 200  # Authors: password-free SSO


@pytestmark_urls
@pytest.mark.django_db
def test_a_directory_user_without_a_mapped_group_is_refused(client, provider):
    provider.claims = {"preferred_username": "sam", "groups": ["all-staff"]}

    done = _single_sign_on(client, provider)

    assert done.status_code == 302
    assert done["Location"] == "/admin/login/?sso=failed"
    assert not get_user_model().objects.filter(username="sam").exists()
    page = client.get("/admin/login/?sso=failed").content.decode()
    assert "your directory account has no role here" in page
    assert "Sign in with single sign-on" in page


@pytestmark_urls
@pytest.mark.django_db
def test_the_providers_second_factor_counts_only_when_trusted(
    client, provider, settings
):
    provider.claims = {
        "preferred_username": "omar",
        "groups": ["cn=ccm-ops,ou=groups,dc=bank"],
    }
    provider.id_claims = {"amr": ["pwd", "otp"]}

    _single_sign_on(client, provider)
    assert client.get("/admin/").status_code == 302
    client.logout()

    settings.OIDC_TRUST_PROVIDER_MFA = True
    _single_sign_on(client, provider)
    assert client.get("/admin/").status_code == 200


@pytestmark_urls
@pytest.mark.django_db
def test_an_id_token_for_another_client_is_refused(client, provider):
    provider.claims = {"preferred_username": "rania", "groups": ["ccm-compliance"]}
    provider.id_claims = {"aud": "another-app"}

    done = _single_sign_on(client, provider)

    assert done.status_code == 400
    assert not get_user_model().objects.filter(username="rania").exists()
