"""The project's auth backend answers as Django's ModelBackend, in fewer reads."""

import pytest
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ccm.auth import UserBackend
from ccm.models import UserSettings

pytestmark = pytest.mark.django_db


def _permission(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


@pytest.fixture
def clerk():
    user = User.objects.create_user("clerk", password="x")  # noqa: S106
    user.user_permissions.add(_permission("view_customer"))
    group = Group.objects.create(name="clerks")
    group.permissions.add(_permission("use_console"), _permission("view_dispatch"))
    user.groups.add(group)
    return user


def _fresh(user: User) -> User:
    return User.objects.get(pk=user.pk)


def test_permissions_are_the_users_own_and_their_groups_as_django_reads_them(clerk):
    held = UserBackend().get_all_permissions(_fresh(clerk))

    assert held == ModelBackend().get_all_permissions(_fresh(clerk))
    assert held == {
        "channels_app.view_customer",
        "console.use_console",
        "channels_app.view_dispatch",
    }


def test_a_superuser_holds_every_permission_and_an_inactive_user_none(clerk):
    boss = User.objects.create_superuser("boss", password="x")  # noqa: S106
    assert UserBackend().get_all_permissions(_fresh(boss)) == (
        ModelBackend().get_all_permissions(_fresh(boss))
    )
    assert len(UserBackend().get_all_permissions(_fresh(boss))) == (
        Permission.objects.count()
    )

    clerk.is_active = False
    clerk.save()
    assert UserBackend().get_all_permissions(_fresh(clerk)) == set()
    assert not _fresh(clerk).has_perm("console.use_console")


def test_a_revoked_permission_is_gone_on_the_next_request(clerk):
    assert UserBackend().get_user(clerk.pk).has_perm("console.use_console")

    Group.objects.get(name="clerks").permissions.remove(_permission("use_console"))

    assert not UserBackend().get_user(clerk.pk).has_perm("console.use_console")


def test_the_user_comes_with_their_language_and_permissions_in_one_read(clerk):
    UserSettings.objects.create(user=clerk, language="ar")

    with CaptureQueriesContext(connection) as queries:
        user = UserBackend().get_user(clerk.pk)
        assert user.ccm_settings.language == "ar"
        assert user.has_perm("console.use_console")
        assert not user.has_perm("templates_app.review_category")

    assert len(queries) == 1


def test_an_unknown_or_inactive_user_is_not_signed_in(clerk):
    assert UserBackend().get_user(10**9) is None
    clerk.is_active = False
    clerk.save()
    assert UserBackend().get_user(clerk.pk) is None


def test_permissions_read_with_the_user_are_djangos_and_none_is_none(clerk):
    loaded = UserBackend().get_user(clerk.pk)
    assert loaded._perm_cache == ModelBackend().get_all_permissions(_fresh(clerk))

    bare = User.objects.create_user("bare", password="x")  # noqa: S106
    with CaptureQueriesContext(connection) as queries:
        user = UserBackend().get_user(bare.pk)
        assert user.get_all_permissions() == set()
        assert not user.has_perm("console.use_console")
    assert len(queries) == 1
