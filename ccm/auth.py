"""Django's model authentication backend, with a signed-in request's reads folded.

Every console and admin page loads the signed-in user, the language they
chose (`UserSettings`) and, at the first permission check, their permissions.
Django's `ModelBackend` spends four queries on that; this one spends one: the
user comes with their settings and with their own and their groups'
permissions, gathered by a subquery into one text. The statement is made
once per process (`ccm.statements`; the permissions' part written out)
rather than built by the ORM on every request: its compilation cost more
than the query. A user loaded otherwise (another backend, a test) has their
permissions read by one UNION at the first check. Behaviour is Django's.
"""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.expressions import RawSQL

from ccm.statements import Marker, statement


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        user_model = get_user_model()

        def build(pk):
            # Names from the models (`_permissions_sql`); the id is a parameter.
            listed = RawSQL(_permissions_sql(listed=True), [pk, pk])  # noqa: S611
            return (
                user_model._default_manager.select_related("ccm_settings")
                .annotate(ccm_permissions=listed)
                .filter(pk=pk)
            )

        user = statement(
            ("ccm.auth.user",), build, Marker("pk"), prepare=True
        ).instance(pk=user_id)
        if user is None or not self.user_can_authenticate(user):
            return None
        if user.is_active and not user.is_superuser:
            user._perm_cache = set((user.ccm_permissions or "").split())
        return user

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(_permissions_sql(every=True))
                else:
                    cursor.execute(_permissions_sql(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {
                    f"{app_label}.{codename}" for app_label, codename in cursor
                }
        return user_obj._perm_cache


@cache
def _permissions_sql(*, every: bool = False, listed: bool = False) -> str:
    """Return the statement naming a user's permissions (`every`: all of them).

    Its two parameters are the user's id, for their own permissions and for
    their groups'. Table and column names come from the models. `listed`: a
    subquery giving them as one text, "app_label.codename" apart by spaces
    (neither has one).
    """
    quote = connection.ops.quote_name
    permission, content_type = Permission._meta, ContentType._meta
    user_field = get_user_model()._meta.get_field("user_permissions")
    own = user_field.remote_field.through._meta
    own_user = quote(own.get_field(user_field.m2m_field_name()).column)
    own_permission = quote(own.get_field(user_field.m2m_reverse_field_name()).column)
    groups_field = get_user_model()._meta.get_field("groups")
    member = groups_field.remote_field.through._meta
    member_user = quote(member.get_field(groups_field.m2m_field_name()).column)
    member_group = quote(member.get_field(groups_field.m2m_reverse_field_name()).column)
    granted_field = Group._meta.get_field("permissions")
    granted = granted_field.remote_field.through._meta
    granted_group = quote(granted.get_field(granted_field.m2m_field_name()).column)
    granted_permission = quote(
        granted.get_field(granted_field.m2m_reverse_field_name()).column
    )
    # Table and column names from the models; the user's id is a parameter.
    named = f"ct.{quote('app_label')}, p.{quote('codename')}"
    if listed:
        aggregate = (
            "string_agg" if connection.vendor == "postgresql" else "group_concat"
        )
        named = (
            f"{aggregate}(ct.{quote('app_label')} || '.' || p.{quote('codename')}, ' ')"
        )
    sql = (
        f"SELECT {named} "  # noqa: S608
        f"FROM {quote(permission.db_table)} p "
        f"JOIN {quote(content_type.db_table)} ct "
        f"ON ct.{quote('id')} = p.{quote('content_type_id')}"
    )
    if every:
        return sql
    chosen = (
        f"{sql} WHERE p.{quote('id')} IN ("  # noqa: S608
        f"SELECT {own_permission} FROM {quote(own.db_table)} WHERE {own_user} = %s "
        f"UNION SELECT g.{granted_permission} FROM {quote(granted.db_table)} g "
        f"JOIN {quote(member.db_table)} m ON m.{member_group} = g.{granted_group} "
        f"WHERE m.{member_user} = %s)"
    )
    return f"({chosen})" if listed else chosen
