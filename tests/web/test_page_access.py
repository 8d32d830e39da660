"""Every page, for every role: members see it, anonymous visitors are sent to sign in, and a
person on no side gets a 403 page telling them to ask revenue operations."""

import pytest
from django.urls import reverse

from tests.web.conftest import ROLES
from workflow import services

MEMBERS = ["proposer", "same_side_approver", "other_side_approver", "non_approver", "ops"]


@pytest.fixture
def pages(in_review, the_cycle, account, people):
    v1 = services.list_version_publish(cycle=the_cycle, by=people.ops)
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    c = the_cycle.pk
    return {
        "queue": reverse("workflow:queue"),
        "cycles": reverse("workflow:cycles"),
        "cycle": reverse("workflow:cycle", args=[c]),
        "cycle nominations": reverse("workflow:cycle", args=[c]) + "?view=nominations",
        "nomination": reverse("workflow:nomination", args=[in_review.pk]),
        "versions": reverse("workflow:versions", args=[c]),
        "version": reverse("workflow:version", args=[c, v1.number]),
        "diff": reverse("workflow:version", args=[c, 2]) + "?against=1",
        "accounts": reverse("accounts_app:accounts") + "?q=glo",
        "account": reverse("accounts_app:account", args=[account.pk]),
        "icp": reverse("icp:list"),
    }


PAGES = [
    "queue",
    "cycles",
    "cycle",
    "cycle nominations",
    "nomination",
    "versions",
    "version",
    "diff",
    "accounts",
    "account",
    "icp",
]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", ROLES)
def test_it_shows_each_page_to_members_only(page, role, pages, role_user, as_):
    response = as_(role_user(role)).get(pages[page])
    if role in MEMBERS:
        assert response.status_code == 200
    elif role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    else:
        assert response.status_code == 403
        assert "revenue operations" in response.content.decode().lower()


@pytest.mark.parametrize("role", ROLES)
def test_it_opens_the_nominate_form_only_to_people_on_a_side(role, the_cycle, role_user, as_):
    response = as_(role_user(role)).get(reverse("workflow:nominate", args=[the_cycle.pk]))
    if role in ("proposer", "same_side_approver", "other_side_approver", "non_approver"):
        assert response.status_code == 200
        assert "Find the account" in response.content.decode()
    elif role == "anonymous":
        assert response.status_code == 302
    else:
        assert response.status_code == 403


def test_it_explains_to_a_person_with_no_side_what_to_do(nobody, as_):
    response = as_(nobody).get(reverse("workflow:queue"))
    assert response.status_code == 403
    page = response.content.decode()
    assert "not on the marketing or the sales side" in page
    assert "Sign out" in page
    assert "My queue" not in page  # nothing to navigate to yet


def test_it_answers_404_for_a_missing_nomination(people, as_):
    assert (
        as_(people.marketer).get(reverse("workflow:nomination", args=[999999])).status_code == 404
    )
