"""Move the tokens of rest_framework.authtoken into api.ApiToken, hashed, and remove what is left
of that app: its table, its permissions (ops could read every key in its admin) and its rows in
django_migrations. Ops get view and delete on the new tokens, which show no key.

The old table is read with SQL when it exists, so the app need not stay installed; a new
database has no such table and only gets the grant.

Each 40-character key keeps working: knox finds a token by its first 15 characters and checks
the SHA-512 digest of the whole key, whatever its length. People's tokens then expire
API_TOKEN_TTL_DAYS after the upgrade, like new ones; integration tokens as
API_INTEGRATION_TOKEN_TTL_DAYS says (by default never).

Going back leaves the tokens hashed: the clear keys are gone for good, and an older Accord that
installs rest_framework.authtoken again starts it empty.
"""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth.management import create_permissions
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone
from knox.crypto import hash_token
from knox.settings import CONSTANTS

OLD_TABLE = "authtoken_token"
OPS_PERMISSIONS = ["view_apitoken", "delete_apitoken"]


def _expiry(days: int, now):
    return now + timedelta(days=days) if days > 0 else None


def move_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("api", "ApiToken")
    ServiceAccount = apps.get_model("api", "ServiceAccount")
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {quote('key')}, {quote('user_id')}, {quote('created')} "
            f"FROM {quote(OLD_TABLE)}"
        )
        rows = cursor.fetchall()
    integrations = set(ServiceAccount.objects.values_list("user_id", flat=True))
    now = timezone.now()
    for key, user_id, created in rows:
        token = ApiToken.objects.create(
            digest=hash_token(key),
            token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH],
            user_id=user_id,
            expiry=_expiry(
                settings.API_INTEGRATION_TOKEN_TTL_DAYS
                if user_id in integrations
                else settings.API_TOKEN_TTL_DAYS,
                now,
            ),
        )
        # `created` is auto_now_add, which create() overwrites; the token is as old as it was.
        ApiToken.objects.filter(pk=token.pk).update(created=created)
    schema_editor.execute(f"DROP TABLE {quote(OLD_TABLE)}")


def forget_authtoken(apps, schema_editor):
    # Its content types take its permissions (and any group's grant of them) along; admin log
    # entries about its tokens keep their text and lose the link.
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.using(schema_editor.connection.alias).filter(
        app_label="authtoken"
    ).delete()
    MigrationRecorder(schema_editor.connection).migration_qs.filter(app="authtoken").delete()


def grant(apps, schema_editor):
    # Permissions are normally created after all migrations; create these now to grant them.
    app_config = apps.get_app_config("api")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ops, _ = Group.objects.get_or_create(name="ops")
    ops.permissions.add(
        *Permission.objects.filter(content_type__app_label="api", codename__in=OPS_PERMISSIONS)
    )


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ops = Group.objects.filter(name="ops").first()
    if ops is not None:
        ops.permissions.remove(
            *Permission.objects.filter(
                content_type__app_label="api", codename__in=OPS_PERMISSIONS
            )
        )


class Migration(migrations.Migration):
    dependencies = [
        ("api", "0003_api_tokens"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(move_tokens, migrations.RunPython.noop),
        migrations.RunPython(forget_authtoken, migrations.RunPython.noop),
        migrations.RunPython(grant, revoke),
    ]
