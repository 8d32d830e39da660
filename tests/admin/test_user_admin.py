import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from tests.factories import person, sign_off_permission

User = get_user_model()

pytestmark = pytest.mark.django_db


def change(client, user, *, groups, permissions=()):
    return client.post(
        f"/admin/auth/user/{user.pk}/change/",
        {
            "username": user.username,
            "email": user.email,
            "is_active": "on",
            "date_joined_0": "2027-01-01",
            "date_joined_1": "09:00:00",
            "groups": [Group.objects.get(name=name).pk for name in groups],
            "user_permissions": [p.pk for p in permissions],
        },
    )


def test_it_refuses_putting_a_person_in_both_side_groups(admin_client):
    mina = person("mina", side="marketing")

    response = change(admin_client, mina, groups=["marketing", "sales"])

    assert response.status_code == 200
    assert "cannot be in both the marketing and the sales group" in response.content.decode()
    assert set(mina.groups.values_list("name", flat=True)) == {"marketing"}


def test_it_refuses_an_approver_in_ops(admin_client):
    olga = person("olga", side="ops")

    response = change(admin_client, olga, groups=["ops"], permissions=[sign_off_permission()])

    assert "Only people on the marketing or sales side can be approvers" in (
        response.content.decode()
    )
    assert not User.objects.get(pk=olga.pk).has_perm("workflow.sign_off")


def test_it_accepts_a_move_to_the_other_side(admin_client):
    mina = person("mina", side="marketing", approver=True)

    response = change(admin_client, mina, groups=["sales"], permissions=[sign_off_permission()])

    assert response.status_code == 302
    assert set(mina.groups.values_list("name", flat=True)) == {"sales"}


def test_the_list_shows_each_persons_side_and_approval(admin_client):
    person("sam", side="sales", approver=True)

    html = admin_client.get("/admin/auth/user/").content.decode()

    assert "sales" in html and 'alt="True"' in html
