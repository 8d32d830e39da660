"""The queue (what waits for my side, my proposals, my mentions) and the cycle page (tiers,
the agreed list, nominations with filters and pages)."""

import pytest
from django.urls import reverse

from tests.factories import AccountFactory
from workflow import services


def get(client, url, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_it_queues_a_nomination_for_the_side_that_has_not_signed(in_review, people, as_):
    queue = reverse("workflow:queue")
    sales = get(as_(people.sales_member), queue)
    assert "Globex" in sales
    assert "Waiting for sales" in sales
    # Marketing reached its quorum with the proposer's submission: nothing waits for it.
    assert "Globex" not in get(as_(people.marketing_approver), queue)
    assert "Globex" in get(as_(people.marketer), queue, tab="proposals")
    assert "Globex" in get(as_(people.ops), queue)  # ops sees everything in review


def test_it_takes_a_nomination_off_my_queue_once_i_decided(in_review, people, as_):
    services.nomination_sign_off(
        nomination=in_review, by=people.sales_approver, decision="request_changes", note="Why?"
    )
    assert "Globex" not in get(as_(people.sales_approver), reverse("workflow:queue"))


def test_it_lists_my_mentions(in_review, people, as_):
    services.comment_create(nomination=in_review, by=people.marketer, body="@sid your account?")
    page = get(as_(people.sales_member), reverse("workflow:queue"), tab="mentions")
    assert "mentioned you on" in page
    assert "@sid your account?" in page
    assert (
        get(as_(people.sales_approver), reverse("workflow:queue"), tab="mentions").count(
            "mentioned you on"
        )
        == 0
    )


def test_it_shows_the_agreed_list_with_tiers_owners_and_origin(in_review, people, as_):
    account = in_review.account
    account.sales_owner = people.sales_member
    account.save()
    services.nomination_sign_off(nomination=in_review, by=people.sales_approver, decision="approve")
    page = get(as_(people.marketing_member), reverse("workflow:cycle", args=[in_review.cycle_id]))
    agreed = page[page.index('data-testid="agreed-list"') :]
    assert "Globex" in agreed
    assert "Tier 1" in agreed
    assert people.sales_member.get_full_name() in agreed
    assert f'href="/nominations/{in_review.pk}/">#{in_review.pk}</a>' in agreed
    assert "1 of 50" in page


@pytest.fixture
def spread(people, the_cycle):
    """Four nominations that differ in state, tier, side, owner and name."""
    owned = AccountFactory(name="Owned Co", domain="owned.example", sales_owner=people.sales_member)
    services.nomination_create(
        cycle=the_cycle, account=owned, kind="add", tier=1, rationale="x", by=people.marketer
    )
    services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name="Sales Pick", domain="pick.example"),
        kind="add",
        tier=2,
        rationale="x",
        by=people.sales_approver,
    )
    services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name="Draft Co", domain="draft.example"),
        kind="add",
        tier=3,
        rationale="x",
        by=people.marketing_member,
        submit=False,
    )
    rejected = services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name="Nope Inc", domain="nope.example"),
        kind="add",
        tier=3,
        rationale="x",
        by=people.marketer,
    )
    services.nomination_sign_off(
        nomination=rejected, by=people.sales_approver, decision="reject", note="No budget"
    )
    return the_cycle


NAMES = {"Owned Co", "Sales Pick", "Draft Co", "Nope Inc"}


@pytest.mark.parametrize(
    ("filters", "shown"),
    [
        ({}, NAMES),
        ({"state": "in_review"}, {"Owned Co", "Sales Pick"}),
        ({"state": "rejected"}, {"Nope Inc"}),
        ({"tier": "3"}, {"Draft Co", "Nope Inc"}),
        ({"side": "sales"}, {"Sales Pick"}),
        ({"q": "pick.exa"}, {"Sales Pick"}),
        ({"q": "draft"}, {"Draft Co"}),
        ({"owner": "OWNER"}, {"Owned Co"}),
        ({"tier": "9", "state": "nonsense"}, NAMES),  # bad values are ignored
    ],
)
def test_it_filters_the_nominations(filters, shown, spread, people, as_):
    if filters.get("owner") == "OWNER":
        filters = {"owner": people.sales_member.pk}
    page = get(
        as_(people.ops),
        reverse("workflow:cycle", args=[spread.pk]),
        view="nominations",
        **filters,
    )
    table = page[page.index("<main") :]
    assert {name for name in NAMES if name in table} == shown


def test_it_pages_through_many_nominations(the_cycle, people, as_):
    for i in range(27):
        services.nomination_create(
            cycle=the_cycle,
            account=AccountFactory(name=f"Paged {i:02}"),
            kind="add",
            tier=3,
            rationale="x",
            by=people.marketer,
            submit=False,
        )
    client = as_(people.marketer)
    url = reverse("workflow:cycle", args=[the_cycle.pk])
    first = get(client, url, view="nominations")
    assert "1–25 of 27" in first
    second = get(client, url, view="nominations", page=2)
    assert "26–27 of 27" in second
    assert second.count("Paged ") == 2


def test_it_lists_cycles_with_their_counts(in_review, people, as_):
    page = get(as_(people.sales_member), reverse("workflow:cycles"))
    assert "FY27 H1" in page
    assert "Active" in page
