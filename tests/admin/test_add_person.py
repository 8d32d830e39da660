"""Revenue operations add a person in the admin (username, e-mail, side or ops, approver,
optionally a password), through workflow.services.person_set_role: the person ends up exactly
as `accord_user` would make them, with the same refusals."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.factories import person

User = get_user_model()

pytestmark = pytest.mark.django_db

ADD = "/admin/auth/user/add/"


def add(client, **fields):
    data = {
        "username": "maya",
        "email": "maya@example.com",
        "first_name": "Maya",
        "last_name": "Lind",
        "side": "marketing",
        "password1": "",
        "password2": "",
        **fields,
    }
    return client.post(ADD, {k: v for k, v in data.items() if v is not None})


def what_they_are(user) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        sorted(user.groups.values_list("name", flat=True)),
        user.has_perm("workflow.sign_off"),
        user.is_staff,
        user.is_superuser,
        user.email,
    )


def test_ops_add_an_approver_of_a_side(ops):
    response = add(ops, approver="on", password1="a-long-pass-9x", password2="a-long-pass-9x")

    maya = User.objects.get(username="maya")
    assert response.status_code == 302
    assert what_they_are(maya) == (["marketing"], True, False, False, "maya@example.com")
    assert (maya.first_name, maya.last_name) == ("Maya", "Lind")
    assert maya.check_password("a-long-pass-9x")


def test_the_person_is_made_exactly_as_accord_user_makes_them(ops):
    add(ops, side="sales", approver="on", email="s@x.io", username="sam")
    out = StringIO()
    call_command("accord_user", "sid", side="sales", approver=True, email="s@x.io", stdout=out)

    assert what_they_are(User.objects.get(username="sam")) == what_they_are(
        User.objects.get(username="sid")
    )


def test_a_person_added_in_ops_gets_admin_access(ops):
    add(ops, side="ops", username="otto", email="otto@example.com")

    otto = User.objects.get(username="otto")
    assert what_they_are(otto) == (["ops"], False, True, False, "otto@example.com")
    assert otto.has_perm("accounts_app.change_account")


def test_without_a_password_they_cannot_sign_in_yet(ops):
    add(ops)

    assert not User.objects.get(username="maya").has_usable_password()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"side": "ops", "approver": "on"}, "Only people on the marketing or sales side can be"),
        ({"password1": "a-long-pass-9x", "password2": "other"}, "The two passwords differ."),
        ({"password1": "123", "password2": "123"}, "This password is too short."),
        ({"email": ""}, "This field is required."),
        ({"side": "superuser"}, "Select a valid choice."),
        ({"username": "mina"}, "A user with that username already exists."),
    ],
)
def test_it_refuses_what_accord_cannot_work_with(ops, fields, message):
    person("mina", side="marketing")

    response = add(ops, **fields)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(username="maya").exists()


def test_ops_still_cannot_change_a_person(ops):
    mina = person("mina", side="marketing")

    response = ops.post(
        f"/admin/auth/user/{mina.pk}/change/",
        {"username": "mina", "email": "x@example.com", "is_superuser": "on"},
    )

    assert response.status_code == 403
    assert not User.objects.get(pk=mina.pk).is_superuser


def test_people_on_a_side_cannot_add_anyone(client, people):
    client.force_login(people.marketing_approver)

    response = add(client)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not User.objects.filter(username="maya").exists()
