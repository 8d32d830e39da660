from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from core.roles import is_approver, is_ops, side_of
from tests.factories import person

User = get_user_model()
PASSWORD = "a-long-enough-passphrase"

pytestmark = pytest.mark.django_db


def accord_user(*args) -> str:
    out = StringIO()
    call_command("accord_user", *args, stdout=out)
    return out.getvalue()


def groups_of(username: str) -> set[str]:
    return set(User.objects.get(username=username).groups.values_list("name", flat=True))


def test_it_creates_a_marketing_approver_who_can_sign_in(client):
    out = accord_user(
        "maya", "--side", "marketing", "--approver", "--password", PASSWORD, "--email", "m@x.io"
    )

    maya = User.objects.get(username="maya")
    assert "Created maya: the marketing side, approver." in out
    assert groups_of("maya") == {"marketing"}
    assert side_of(maya) == "marketing"
    assert is_approver(maya)
    assert maya.email == "m@x.io"
    assert not maya.is_staff
    assert client.login(request=HttpRequest(), username="maya", password=PASSWORD)


def test_it_moves_a_person_to_the_other_side_and_removes_the_old_group():
    person("sid", side="sales")

    out = accord_user("sid", "--side", "marketing")

    assert "Updated sid: the marketing side, not an approver." in out
    assert groups_of("sid") == {"marketing"}


def test_it_removes_the_approval_when_approver_is_left_out():
    person("sam", side="sales", approver=True)

    accord_user("sam", "--side", "sales")

    sam = User.objects.get(username="sam")
    assert side_of(sam) == "sales"
    assert not is_approver(sam)


def test_it_refuses_to_make_ops_an_approver():
    with pytest.raises(CommandError, match="Revenue operations cannot be approvers"):
        accord_user("olga", "--side", "ops", "--approver")

    assert not User.objects.filter(username="olga").exists()


def test_it_refuses_a_person_in_both_side_groups_and_says_how_to_fix_it():
    both = person("bo", side="marketing")
    both.groups.add(Group.objects.get(name="sales"))

    with pytest.raises(CommandError) as refused:
        accord_user("bo", "--side", "sales")

    message = str(refused.value)
    assert "bo is in both the marketing and the sales group" in message
    assert "Remove them from one of the two groups in the admin" in message
    assert groups_of("bo") == {"marketing", "sales"}


def test_ops_are_staff_and_may_use_the_admin(client):
    accord_user("olga", "--side", "ops", "--password", PASSWORD)

    olga = User.objects.get(username="olga")
    assert olga.is_staff and is_ops(olga) and side_of(olga) is None
    assert olga.has_perm("workflow.view_nomination")
    assert olga.has_perm("accounts_app.change_account")
    assert olga.has_perm("workflow.change_cycle")
    assert not olga.has_perm("workflow.change_nomination")
    assert not olga.has_perm("workflow.sign_off")
    client.force_login(olga)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/workflow/nomination/").status_code == 200


def test_leaving_ops_ends_admin_access():
    accord_user("olga", "--side", "ops")

    accord_user("olga", "--side", "sales")

    olga = User.objects.get(username="olga")
    assert not olga.is_staff
    assert groups_of("olga") == {"sales"}


def _printed_token(output: str) -> str:
    return output.split("API token: ")[1].strip()


def test_it_prints_a_new_working_api_token_each_time_and_keeps_none_of_them():
    from api.models import ApiToken
    from tests.api.conftest import client_for

    first = _printed_token(accord_user("sam", "--side", "sales", "--token"))
    again = _printed_token(accord_user("sam", "--side", "sales", "--token"))

    assert first != again  # the first cannot be shown again: only its digest is kept
    for key in (first, again):
        assert client_for(token=key).get("/api/v1/me/").json()["username"] == "sam"
    stored = ApiToken.objects.filter(user__username="sam").values_list("digest", "token_key")
    assert len(stored) == 2
    assert not {first, again} & {value for row in stored for value in row}


def test_it_prints_no_token_unless_asked():
    assert "API token" not in accord_user("sam", "--side", "sales")


def test_it_refuses_a_bad_email_and_a_weak_password():
    with pytest.raises(CommandError, match="is not an e-mail address"):
        accord_user("maya", "--side", "marketing", "--email", "not-an-address")
    with pytest.raises(CommandError, match="too short"):
        accord_user("maya", "--side", "marketing", "--password", "abc")

    assert not User.objects.filter(username="maya").exists()


def test_a_new_person_without_a_password_cannot_sign_in_yet():
    out = accord_user("mina", "--side", "marketing")

    assert "No password set" in out
    assert not User.objects.get(username="mina").has_usable_password()
