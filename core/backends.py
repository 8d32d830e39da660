"""Accord's authentication backend: Django's ModelBackend, with a person's permissions read in
one query instead of two.

Every page asks at least once whether the person may sign off (the navigation shows it), which
made ModelBackend read the person's own permissions and their groups' permissions: two queries
on every request. One UNION gives the same set.
"""

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission


class AccordBackend(ModelBackend):
    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            fields = ("content_type__app_label", "codename")
            if user_obj.is_superuser:
                perms = Permission.objects.values_list(*fields)
            else:
                # Unordered (not Permission's default): SQLite refuses ORDER BY in a UNION's parts.
                own = Permission.objects.filter(user=user_obj).order_by().values_list(*fields)
                via_groups = (
                    Permission.objects.filter(group__user=user_obj).order_by().values_list(*fields)
                )
                perms = own.union(via_groups)
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in perms}
        return user_obj._perm_cache
