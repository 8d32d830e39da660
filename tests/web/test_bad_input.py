"""Bad input on the site gets a clear answer, never a server error, and stores nothing too
large: numbers are bounded as the API bounds them, texts keep the API's length limits, and ids
beyond the database's integer range are simply not found."""

import pytest
from django.urls import reverse

from accounts_app.models import Account
from core.text import MAX_TEXT
from tests.factories import AccountFactory
from workflow.models import Comment, Nomination

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
JUST_TOO_BIG = str(2**63)


def test_the_create_account_form_bounds_the_employee_count(people, the_cycle, as_):
    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {
            "step": "create_account",
            "new-name": "Vandelay Industries",
            "new-domain": "vandelay.example",
            "new-employee_count": "3000000000",
        },
    )

    assert response.status_code == 400
    assert "less than or equal to 2147483647" in response.content.decode()
    assert not Account.objects.filter(domain="vandelay.example").exists()


def test_the_create_account_form_refuses_an_unknown_country(people, the_cycle, as_):
    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {
            "step": "create_account",
            "new-name": "Vandelay Industries",
            "new-domain": "vandelay.example",
            "new-country": "XX",
        },
    )

    assert response.status_code == 400
    assert "is not a two-letter country code" in response.content.decode()


def test_a_rationale_longer_than_the_api_allows_is_refused(people, the_cycle, as_):
    account = AccountFactory()

    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {
            "step": "submit",
            "account": account.pk,
            "kind": "add",
            "tier": "1",
            "rationale": "x" * 2_000_000,
        },
    )

    assert response.status_code == 400
    assert f"at most {MAX_TEXT} characters (it has 2000000)" in response.content.decode()
    assert not Nomination.objects.exists()


def test_a_note_longer_than_the_api_allows_is_refused(in_review, people, as_):
    response = as_(people.sales_approver).post(
        reverse("workflow:decide", args=[in_review.pk]),
        {"decision": "reject", "note": "x" * (MAX_TEXT + 1)},
    )

    assert response.status_code == 400
    in_review.refresh_from_db()
    assert in_review.state == "in_review"
    assert not in_review.sign_offs.filter(person=people.sales_approver).exists()


def test_a_comment_longer_than_the_api_allows_is_not_stored(in_review, people, as_):
    response = as_(people.sales_member).post(
        reverse("workflow:comment", args=[in_review.pk]), {"body": "x" * (MAX_TEXT + 1)}
    )

    assert response.status_code == 400
    assert not Comment.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        f"/cycles/{HUGE}/",
        f"/cycles/{JUST_TOO_BIG}/nominate/",
        f"/nominations/{HUGE}/",
        f"/accounts/{HUGE}/",
        f"/sync/runs/{JUST_TOO_BIG}/",
    ],
)
def test_ids_beyond_the_integer_range_are_not_found(people, as_, url):
    assert as_(people.ops).get(url).status_code == 404


def test_the_sync_progress_ignores_ids_beyond_the_integer_range(people, as_):
    response = as_(people.ops).get(f"/sync/progress/?id={HUGE}&id={JUST_TOO_BIG}&id=-1")

    assert response.status_code == 200
    assert response.json()["runs"] == []


def test_a_hidden_account_id_beyond_the_range_is_not_found(people, the_cycle, as_):
    response = as_(people.marketer).post(
        reverse("workflow:nominate", args=[the_cycle.pk]),
        {"step": "check", "account": HUGE, "kind": "add"},
    )

    assert response.status_code == 404


def test_comparing_versions_beyond_the_range_goes_back_to_the_versions(people, the_cycle, as_):
    response = as_(people.ops).get(
        reverse("workflow:version_compare", args=[the_cycle.pk]), {"old": HUGE, "new": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("workflow:versions", args=[the_cycle.pk])
