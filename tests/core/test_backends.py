"""AccordBackend reads a person's permissions in one query and finds what ModelBackend finds."""

import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from core.backends import AccordBackend
from core.roles import is_approver, side_of


@pytest.fixture
def person(db):
    user = get_user_model().objects.create_user("perm-person", password="x")
    group = Group.objects.create(name="perm-group")
    group.permissions.add(Permission.objects.get(codename="sign_off"))
    user.groups.add(group)
    user.user_permissions.add(Permission.objects.get(codename="add_activity"))
    return user


def _fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def test_it_finds_the_persons_own_and_their_groups_permissions_in_one_query(
    person, django_assert_num_queries
):
    user = _fresh(person)
    with django_assert_num_queries(1):
        found = AccordBackend().get_all_permissions(user)
    assert found == ModelBackend().get_all_permissions(_fresh(person))
    assert {"workflow.sign_off", "accounts_app.add_activity"} <= found


def test_superusers_hold_every_permission_and_inactive_people_none(person):
    person.is_superuser = True
    person.save()
    assert AccordBackend().get_all_permissions(
        _fresh(person)
    ) == ModelBackend().get_all_permissions(_fresh(person))
    assert len(AccordBackend().get_all_permissions(_fresh(person))) == Permission.objects.count()
    person.is_active = False
    person.save()
    assert AccordBackend().get_all_permissions(_fresh(person)) == set()
    assert not _fresh(person).has_perm("workflow.sign_off")


def test_a_permission_taken_away_is_gone_on_the_next_request(person):
    assert _fresh(person).has_perm("workflow.sign_off")
    Group.objects.get(name="perm-group").permissions.clear()
    assert not _fresh(person).has_perm("workflow.sign_off")


@pytest.mark.parametrize(
    ("cache_url", "engine"),
    [
        ("redis://127.0.0.1:6379/1", "django.contrib.sessions.backends.cached_db"),
        ("locmemcache://", "django.contrib.sessions.backends.db"),
    ],
)
def test_sessions_are_read_from_the_cache_only_when_every_process_shares_it(cache_url, engine):
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'config.settings'; "
            "django.setup(); from django.conf import settings; print(settings.SESSION_ENGINE)",
        ],
        env={**__import__("os").environ, "CACHE_URL": cache_url},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == engine


def test_a_request_reads_the_person_with_their_groups_and_permissions_in_one_query(
    person, django_assert_num_queries
):
    person.groups.add(Group.objects.get(name="marketing"))
    with django_assert_num_queries(1):  # the user with their groups and permissions
        user = AccordBackend().get_user(person.pk)
        assert user._accord_groups == {"perm-group", "marketing"}
        found = user.get_all_permissions()
        assert side_of(user) == "marketing"
        assert is_approver(user)
    assert found == ModelBackend().get_all_permissions(_fresh(person))
    assert {"workflow.sign_off", "accounts_app.add_activity"} <= found


def test_a_person_with_no_group_or_permission_has_none_and_a_superuser_all(person):
    bare = get_user_model().objects.create_user("bare", password="x")
    user = AccordBackend().get_user(bare.pk)
    assert user._accord_groups == frozenset() and user.get_all_permissions() == set()
    assert side_of(user) is None and not is_approver(user)
    person.is_superuser = True
    person.save()
    boss = AccordBackend().get_user(person.pk)
    assert boss.get_all_permissions() == {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.select_related("content_type")
    }


def test_a_group_taken_away_is_gone_on_the_next_request(person, client):
    person.groups.add(Group.objects.get(name="sales"))
    client.force_login(person)
    assert client.get("/").status_code == 200
    person.groups.remove(Group.objects.get(name="sales"))
    assert client.get("/").status_code == 403


def test_no_user_for_an_unknown_a_malformed_or_an_inactive_id_and_fields_typed_as_the_orms(person):
    import datetime as dt

    backend = AccordBackend()
    assert backend.get_user(999_999) is None
    assert backend.get_user("not-a-number") is None
    user = backend.get_user(str(person.pk))  # as the session holds it
    assert user == person and isinstance(user.date_joined, dt.datetime)
    assert user.date_joined == _fresh(person).date_joined and user.password == person.password
    assert not hasattr(user, "accord_role_kind")
    person.is_active = False
    person.save()
    assert backend.get_user(person.pk) is None
