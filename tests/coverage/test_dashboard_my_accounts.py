""" "My accounts that need action": each person sees the accounts they own with the gaps that
are theirs to act on, and why; ops see the accounts missing an owner."""

import re

import pytest
from django.urls import reverse

from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for, html_of, table_accounts
from tests.factories import person


@pytest.fixture
def taken(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


def my_actions(world, user) -> dict[str, str]:
    html = html_of(client_for(user).get(reverse("coverage:dashboard", args=[world.cycle.pk])))
    box = html[html.index('data-testid="my-actions"') : html.index('data-testid="charts"')]
    items = re.split(r'<li class="list-group-item" data-account="', box)[1:]
    return {item[: item.index('"')]: item for item in items}


def test_the_sales_owner_sees_the_follow_up_and_the_shared_gaps(world, people, taken):
    mine = my_actions(world, people.sales_member)
    assert sorted(mine) == ["Bravo", "Charlie"]
    assert "sales has not followed up" in mine["Bravo"]
    assert "No contact in a required role: Champion, Budget holder." in mine["Bravo"]
    assert "single-threaded" in mine["Bravo"]
    assert "gone cold" in mine["Charlie"]
    # Bravo has no marketing owner: that is for ops, not for the seller.
    assert "No marketing owner" not in mine["Bravo"]


def test_the_marketing_owner_sees_only_their_accounts_and_not_sales_follow_ups(
    world, people, taken
):
    mine = my_actions(world, people.marketing_member)
    # Bravo's missing follow-up is the seller's, and Bravo is not hers.
    assert sorted(mine) == ["Charlie"]
    assert "gone cold" in mine["Charlie"]


def test_ops_see_the_accounts_missing_an_owner(world, people, taken):
    mine = my_actions(world, people.ops)
    assert sorted(mine) == ["Bravo", "Delta"]
    assert "No sales owner" in mine["Delta"]
    assert "No marketing owner" in mine["Delta"]
    assert "sales has not followed up" not in mine["Bravo"]


def test_someone_who_owns_nothing_is_told_nothing_waits(world, people, taken):
    html = html_of(
        client_for(people.sales_approver).get(reverse("coverage:dashboard", args=[world.cycle.pk]))
    )
    assert "Nothing waits for you" in html


def test_see_all_lists_the_same_accounts_in_the_table(world, people, taken):
    url = reverse("coverage:accounts", args=[world.cycle.pk])
    seller = client_for(people.sales_member)
    assert table_accounts(html_of(seller.get(url, {"action": "me"}))) == ["Bravo", "Charlie"]
    marketer = client_for(people.marketing_member)
    assert table_accounts(html_of(marketer.get(url, {"action": "me"}))) == ["Charlie"]


def test_a_new_owner_of_an_account_with_a_gap_sees_it(world, people):
    # The owner comes from the snapshot (the list entry's owner, or the account's).
    newcomer = person("nia", side="marketing")
    bravo = world.accounts["Bravo"]
    bravo.marketing_owner = newcomer
    bravo.save()
    snapshot_take(cycle=world.cycle, as_of=world.as_of)
    mine = my_actions(world, newcomer)
    assert sorted(mine) == ["Bravo"]
    assert "single-threaded" in mine["Bravo"]
    assert "sales has not followed up" not in mine["Bravo"]
