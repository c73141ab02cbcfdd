"""Builders for the objects tests need; no JSON fixtures."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


def user_build(
    *, username: str, role: str | None = None, password: str = "pw-12345!x", **fields
):
    """Create a staff user, optionally in a role group, with a known password."""
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=fields.pop("email", f"{username}@example.com"),
        is_staff=fields.pop("is_staff", True),
        **fields,
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user
