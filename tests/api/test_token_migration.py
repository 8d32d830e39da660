"""The upgrade from rest_framework.authtoken: a database whose tokens were kept in clear keeps
every token working, hashed, and loses the old table and its permissions; a new database gets
the grant only. Each test migrates the api app back to before the upgrade and forward again."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from api.models import ApiToken, ServiceAccount
from tests.api.conftest import client_for
from tests.factories import person

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("api", "0002_ops_manage_tokens")
OLD_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # as DRF made them: 40 hex characters
OLD_ROBOT_KEY = "0f3a1b2c3d4e5f60718293a4b5c6d7e8f9012345"


def _migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets or executor.loader.graph.leaf_nodes())
    ContentType.objects.clear_cache()


def _create_the_old_table() -> None:
    when = "timestamp with time zone" if connection.vendor == "postgresql" else "datetime"
    with connection.cursor() as cursor:
        cursor.execute(
            'CREATE TABLE "authtoken_token" ("key" varchar(40) NOT NULL PRIMARY KEY, '
            f'"created" {when} NOT NULL, "user_id" integer NOT NULL UNIQUE)'
        )
    for app_name in ("0001_initial", "0004_alter_tokenproxy_options"):
        MigrationRecorder(connection).record_applied("authtoken", app_name)


def _insert_old_token(key: str, user, created) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO "authtoken_token" ("key", "created", "user_id") VALUES (%s, %s, %s)',
            [key, created, user.pk],
        )


def test_an_old_token_still_authenticates_after_the_upgrade_and_is_kept_hashed(settings):
    settings.API_TOKEN_TTL_DAYS = 90
    sam = person("sam", side="sales", approver=True)
    robot = person("crm-sync", side=None)
    ServiceAccount.objects.create(user=robot)
    ops = Group.objects.get_or_create(name="ops")[0]
    _migrate([BEFORE])
    _create_the_old_table()
    made = timezone.now() - timedelta(days=400)
    _insert_old_token(OLD_KEY, sam, made)
    _insert_old_token(OLD_ROBOT_KEY, robot, made)
    # What the old app left: its permissions, granted to ops, and the admin's history.
    old_type = ContentType.objects.create(app_label="authtoken", model="tokenproxy")
    ops.permissions.add(
        Permission.objects.create(codename="view_tokenproxy", name="x", content_type=old_type)
    )
    LogEntry.objects.create(
        user=sam, content_type=old_type, object_id="1", object_repr="Token", action_flag=DELETION
    )

    _migrate(None)

    me = client_for(token=OLD_KEY).get("/api/v1/me/")
    assert me.status_code == 200 and me.json()["username"] == "sam"
    assert client_for(token=OLD_ROBOT_KEY).get("/api/v1/accounts/").status_code == 200
    sams = ApiToken.objects.get(user=sam)
    assert sams.token_key == OLD_KEY[:15]
    assert OLD_KEY not in (sams.digest, sams.token_key)
    assert abs(sams.created - made) < timedelta(seconds=1)
    # A person's token now expires like a new one would, counted from the upgrade.
    assert timezone.now() + timedelta(days=89) < sams.expiry <= timezone.now() + timedelta(days=90)
    assert ApiToken.objects.get(user=robot).expiry is None

    assert "authtoken_token" not in connection.introspection.table_names()
    assert not ContentType.objects.filter(app_label="authtoken").exists()
    assert not Permission.objects.filter(content_type__app_label="authtoken").exists()
    assert LogEntry.objects.get().content_type is None  # the history stays
    assert not MigrationRecorder(connection).migration_qs.filter(app="authtoken").exists()
    granted = set(ops.permissions.values_list("codename", flat=True))
    assert {"view_apitoken", "delete_apitoken"} <= granted
    assert not {"add_apitoken", "change_apitoken"} & granted


def test_a_new_database_without_the_old_table_gets_the_grant_only(db):
    _migrate([BEFORE])
    assert "authtoken_token" not in connection.introspection.table_names()

    _migrate(None)

    ops = Group.objects.get(name="ops")
    assert {"view_apitoken", "delete_apitoken"} <= set(
        ops.permissions.values_list("codename", flat=True)
    )
    assert not ApiToken.objects.exists()
