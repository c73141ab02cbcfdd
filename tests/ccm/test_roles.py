"""The four roles exist as groups, and each demo user sees only its role's screens."""

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from accounts.mfa import confirmed_device, device_secret
from ccm import roles
from ccm.management.commands.seed_demo import DEMO_USERS, demo_password
from tests.signin import client_sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _debug(settings):
    """seed_demo refuses to run with DEBUG off; the product's dev mode is on."""
    settings.DEBUG = True


def test_seed_demo_refuses_with_debug_off(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="refusing with DEBUG off"):
        call_command("seed_demo")


def test_migrations_create_the_four_role_groups_with_their_permissions():
    for role, names in roles.ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        assert held == set(names), role


def test_seed_demo_creates_one_user_per_role_and_prints_passwords(client, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out

    for username, role, _language, _name in DEMO_USERS:
        assert f"{username:<10} {demo_password(username)}" in out
        if role in (roles.REVIEWER, roles.OPERATOR):
            # Their authenticator app's key, printed for the demo's users.
            assert (
                f"{username:<10} {device_secret(confirmed_device_of(username))}" in out
            )
        client_sign_in(client, username, demo_password(username))
        assert client.get("/admin/").status_code == 200
        client.logout()
    assert set(
        Group.objects.get(name=roles.OPERATOR).user_set.values_list(
            "username", flat=True
        )
    ) == {"operator", "operator-2"}


def confirmed_device_of(username):
    from django.contrib.auth import get_user_model

    return confirmed_device(get_user_model().objects.get(username=username))


def test_seed_demo_is_idempotent():
    call_command("seed_demo", dispatches=0)
    call_command("seed_demo", dispatches=0)

    assert Group.objects.get(name=roles.AUTHOR).user_set.count() == 1


def test_operator_manages_users_but_agent_cannot(client):
    call_command("seed_demo", dispatches=0)

    client_sign_in(client, "operator", demo_password("operator"))
    assert client.get("/admin/auth/user/").status_code == 200
    client.logout()

    client_sign_in(client, "agent", demo_password("agent"))
    assert client.get("/admin/auth/user/").status_code == 403
