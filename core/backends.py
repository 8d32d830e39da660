"""Accord's authentication backend: Django's ModelBackend, with a signed-in person read with
their groups and permissions in one query instead of four.

Every page asks for the person's side (their groups) and whether they may sign off (their own
and their groups' permissions): ModelBackend and `user.groups` make that the user's query and
three more on every request, each built by the ORM (about 1.6 ms of a worker's CPU together, a
sixth of a page). `get_user`, which the session middleware calls once per request, reads them
with one plain query instead (about 0.2 ms): the user's row joined to a UNION ALL of their
group names and permissions, one row per group or permission, through `raw()` (which converts
the columns as the ORM would). The groups and permissions are left on the user object, where
`core.roles` and `get_all_permissions` find them. They are read again on every request: a
permission or group taken away counts on the next one, as with ModelBackend.
"""

import functools

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import connections, router

_ROLE = ("accord_role_kind", "accord_role_a", "accord_role_b")


@functools.cache
def _user_sql(alias: str) -> str:
    """The user (`%s`, four times) with one row per group ('g', name) and permission ('p',
    app label, codename), or one row with no role."""
    q = connections[alias].ops.quote_name
    User = get_user_model()
    user_groups = User.groups.through._meta
    user_perms = User.user_permissions.through._meta
    group_perms = Group.permissions.through._meta

    def column(meta, model) -> str:
        field = next(f for f in meta.fields if getattr(f, "related_model", None) is model)
        return q(field.column)

    t = {
        "user": q(User._meta.db_table),
        "user_pk": q(User._meta.pk.column),
        "columns": ", ".join(f"u.{q(f.column)}" for f in User._meta.concrete_fields),
        "kind": q(_ROLE[0]),
        "a": q(_ROLE[1]),
        "b": q(_ROLE[2]),
        "ug": q(user_groups.db_table),
        "ug_user": column(user_groups, User),
        "ug_group": column(user_groups, Group),
        "up": q(user_perms.db_table),
        "up_user": column(user_perms, User),
        "up_perm": column(user_perms, Permission),
        "gp": q(group_perms.db_table),
        "gp_group": column(group_perms, Group),
        "gp_perm": column(group_perms, Permission),
        "group": q(Group._meta.db_table),
        "perm": q(Permission._meta.db_table),
        "ct": q(ContentType._meta.db_table),
        "perm_ct": q(Permission._meta.get_field("content_type").column),
    }
    return (
        "SELECT {columns}, r.k AS {kind}, r.a AS {a}, r.b AS {b} FROM {user} u LEFT JOIN ("
        "SELECT 'g' AS k, g.name AS a, '' AS b FROM {ug} ug JOIN {group} g "
        "ON g.id = ug.{ug_group} WHERE ug.{ug_user} = %s "
        "UNION ALL "
        "SELECT 'p', ct.app_label, p.codename FROM {up} up JOIN {perm} p ON p.id = up.{up_perm} "
        "JOIN {ct} ct ON ct.id = p.{perm_ct} WHERE up.{up_user} = %s "
        "UNION ALL "
        "SELECT 'p', ct.app_label, p.codename FROM {ug} ug JOIN {gp} gp ON gp.{gp_group} = "
        "ug.{ug_group} JOIN {perm} p ON p.id = gp.{gp_perm} JOIN {ct} ct ON ct.id = p.{perm_ct} "
        "WHERE ug.{ug_user} = %s"
        ") r ON 1 = 1 WHERE u.{user_pk} = %s"
    ).format(**t)


class AccordBackend(ModelBackend):
    def get_user(self, user_id):
        """ModelBackend's (None for no such or an inactive user), in one query with the
        person's groups (`_accord_groups`, for core.roles) and, unless a superuser (who holds
        every permission, read when asked), permissions (`_perm_cache`, for has_perm)."""
        User = get_user_model()
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        alias = router.db_for_read(User)
        rows = list(User._default_manager.db_manager(alias).raw(_user_sql(alias), [pk] * 4))
        if not rows or not self.user_can_authenticate(rows[0]):
            return None
        user = rows[0]
        roles = [(getattr(r, _ROLE[0]), getattr(r, _ROLE[1]), getattr(r, _ROLE[2])) for r in rows]
        for name in _ROLE:
            delattr(user, name)
        user._accord_groups = frozenset(a for kind, a, _ in roles if kind == "g")
        if not user.is_superuser:
            user._perm_cache = {f"{a}.{b}" for kind, a, b in roles if kind == "p"}
        return user

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
