"""Django's model authentication backend, with a signed-in request's reads folded.

Every console and admin page loads the signed-in user, the language they
chose (`UserSettings`) and, at the first permission check, their permissions.
Django's `ModelBackend` spends four queries on that; this one spends two: the
user comes with their settings, and the user's own and their groups'
permissions come in one UNION. Behaviour is Django's.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class UserBackend(ModelBackend):
    def get_user(self, user_id):
        user_model = get_user_model()
        try:
            user = user_model._default_manager.select_related("ccm_settings").get(
                pk=user_id
            )
        except user_model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            names = Permission.objects.order_by().values_list(
                "content_type__app_label", "codename"
            )
            if not user_obj.is_superuser:
                names = names.filter(user=user_obj).union(
                    names.filter(group__user=user_obj)
                )
            user_obj._perm_cache = {
                f"{app_label}.{codename}" for app_label, codename in names
            }
        return user_obj._perm_cache
