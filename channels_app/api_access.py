"""Who may call the trigger API: a client's token and its permission, one read.

DRF's token authentication reads the token with its user, then the first
permission check reads every permission of the user (a second query on
every request). Here one statement reads the user by token and answers the
one permission the API asks for, `channels_app.add_communication`, held
directly or through a group. It is SQL written once, not an ORM query: built
by the ORM on every request, this statement cost more CPU than the rest of
a status read. On PostgreSQL the server also plans it once per connection
(`ccm.statements.prepared_cursor`): planned for every request, its joins
cost the server 0.73 ms of CPU, prepared 0.10 ms. Behaviour is Django's: an
inactive user is refused, a superuser may do everything, and a permission
revoked is gone on the next request (nothing is kept between requests).
"""

from functools import cache

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.sql import Query
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.authtoken.models import Token

from ccm.statements import prepared_cursor

TRIGGER_PERMISSION = ("channels_app", "add_communication")
# Set on the user by TokenAuthentication: whether TRIGGER_PERMISSION is held.
MAY_TRIGGER = "api_may_trigger"


@cache
def _user_by_token_sql() -> str:
    """SELECT the user's columns and may_trigger for a token key (the last
    parameter, after the permission's app label and codename, twice)."""
    quote = connection.ops.quote_name
    user = get_user_model()
    user_perms = user._meta.get_field("user_permissions").remote_field.through
    user_groups = user._meta.get_field("groups").remote_field.through
    group_perms = Group._meta.get_field("permissions").remote_field.through

    def table(model) -> str:
        return quote(model._meta.db_table)

    permission = (
        f"JOIN {table(Permission)} p ON p.id = {{link}}.permission_id "
        f"JOIN {table(ContentType)} ct ON ct.id = p.content_type_id "
        "WHERE ct.app_label = %s AND p.codename = %s"
    )
    columns = ", ".join(f"u.{quote(f.column)}" for f in user._meta.concrete_fields)
    # Table and column names are the models' own, quoted; values parameters.
    return (
        f"SELECT {columns}, (EXISTS (SELECT 1 FROM {table(user_perms)} up "  # noqa: S608
        f"{permission.format(link='up')} AND up.user_id = u.id) "
        f"OR EXISTS (SELECT 1 FROM {table(user_groups)} ug "
        f"JOIN {table(group_perms)} gp ON gp.group_id = ug.group_id "
        f"{permission.format(link='gp')} AND ug.user_id = u.id)) AS may_trigger "
        f"FROM {table(Token)} t JOIN {table(user)} u ON u.id = t.user_id "
        "WHERE t.key = %s"
    )


def _user_converters(alias: str):
    """A compiler of the user model and the converters of its columns."""
    user_model = get_user_model()
    compiler = Query(user_model).get_compiler(alias)
    return compiler, compiler.get_converters(
        [
            field.get_col(user_model._meta.db_table)
            for field in user_model._meta.concrete_fields
        ]
    )


@cache
def _user_columns(alias: str) -> tuple[list[str], bool]:
    """The user's attribute names, in the order `_user_by_token_sql` selects
    them, and whether the database needs converters for them (SQLite returns
    datetimes as text; PostgreSQL needs none): found once per process."""
    names = [field.attname for field in get_user_model()._meta.concrete_fields]
    return names, bool(_user_converters(alias)[1])


def _user_from_row(row: tuple):
    """The user of a row of the user's columns, read as the ORM reads them."""
    names, converted = _user_columns(connection.alias)
    if converted:
        compiler, converters = _user_converters(connection.alias)
        (row,) = compiler.apply_converters([row], converters)
    return get_user_model().from_db(connection.alias, names, row)


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's `Authorization: Token …`, with the trigger permission in the same read."""

    def authenticate_credentials(self, key):
        if "\x00" in key:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        with prepared_cursor() as cursor:
            cursor.execute(
                _user_by_token_sql(), [*TRIGGER_PERMISSION, *TRIGGER_PERMISSION, key]
            )
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = _user_from_row(row[:-1])
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        setattr(user, MAY_TRIGGER, bool(row[-1]))
        return user, Token(key=key, user=user)


class CanTrigger(permissions.BasePermission):
    """The client system holds channels_app.add_communication."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        granted = getattr(user, MAY_TRIGGER, None)
        if granted is None or (user.is_active and user.is_superuser):
            # Signed in another way (a session), or a superuser: Django decides.
            return user.has_perm(".".join(TRIGGER_PERMISSION))
        return bool(granted)


class DocsAccess(permissions.BasePermission):
    """Who may read the API schema and its Swagger page (`API_DOCS_ACCESS`).

    `staff-or-token` (the default): a client system with a token, or a
    signed-in staff user; `staff`: signed-in staff only; `public`: anyone.
    """

    def has_permission(self, request, view) -> bool:
        access = settings.API_DOCS_ACCESS
        if access == "public":
            return True
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        if user.is_staff:
            return True
        return access == "staff-or-token" and isinstance(request.auth, Token)
