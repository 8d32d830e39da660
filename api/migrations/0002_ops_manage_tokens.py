"""Revenue operations may see integration logins in the admin, issue new tokens and revoke them
(api.ServiceAccount).

This migration also granted ops view and delete on rest_framework.authtoken's tokens, whose
admin showed every key. Those tokens moved to api.ApiToken (0003) and the app is gone, so the
grant and the dependency on it are no longer here: databases that applied it lose those
permissions in 0003, new databases never get them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

OPS_PERMISSIONS = {
    "api": ["view_serviceaccount", "change_serviceaccount"],
}


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create these now to grant them.
    for label in OPS_PERMISSIONS:
        app_config = apps.get_app_config(label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ops, _ = Group.objects.get_or_create(name="ops")
    for label, codenames in OPS_PERMISSIONS.items():
        ops.permissions.add(
            *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ops = Group.objects.filter(name="ops").first()
    if ops is None:
        return
    for label, codenames in OPS_PERMISSIONS.items():
        ops.permissions.remove(
            *Permission.objects.filter(content_type__app_label=label, codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0001_initial"),
        ("workflow", "0002_events_append_only_and_groups"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
