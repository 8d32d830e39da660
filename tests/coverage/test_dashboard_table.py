"""The table of a snapshot's target accounts: filters, sorting, paging, and the dashboard's
numbers leading to the rows behind them."""

import pytest
from django.urls import reverse

from coverage.services import snapshot_take
from tests.coverage.dashboard_helpers import client_for, html_of, link_of, table_accounts
from tests.coverage.test_query_counts import grow_list


@pytest.fixture
def taken(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


@pytest.fixture
def table(world, people, taken):
    url = reverse("coverage:accounts", args=[world.cycle.pk])

    def rows(user=None, **params) -> list[str]:
        return table_accounts(html_of(client_for(user or people.marketing_member).get(url, params)))

    return rows


def test_it_lists_every_target_account_by_tier_then_name(table):
    assert table() == ["Acme", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"tier": "1"}, ["Acme", "Bravo"]),
        ({"gap": "missing_role"}, ["Bravo", "Delta"]),
        ({"gap": "gone_cold"}, ["Charlie"]),
        ({"gap": "no_marketing_owner"}, ["Bravo", "Delta"]),
        ({"stage": "customer"}, ["Charlie"]),
        ({"stage": "targeted"}, ["Delta", "Foxtrot"]),
        ({"covered": "full"}, ["Acme", "Charlie", "Echo"]),
        ({"covered": "partial"}, ["Bravo"]),
        ({"further": "engaged"}, ["Acme", "Charlie", "Echo"]),
        ({"pipeline": "open"}, ["Acme"]),
        ({"pipeline": "won"}, ["Charlie"]),
        ({"q": "ech"}, ["Echo"]),
        ({"tier": "2", "gap": "missing_role"}, ["Delta"]),
    ],
)
def test_it_filters(table, params, expected):
    assert table(**params) == expected


def test_it_filters_by_owner_on_each_side(table, people):
    assert table(sales_owner=people.sales_member.pk) == [
        "Acme",
        "Bravo",
        "Charlie",
        "Echo",
        "Foxtrot",
    ]
    assert table(marketing_owner=people.marketing_member.pk) == [
        "Acme",
        "Charlie",
        "Echo",
        "Foxtrot",
    ]


def test_an_unknown_filter_value_lists_nothing_rather_than_everything(world, people, taken):
    url = reverse("coverage:accounts", args=[world.cycle.pk])
    html = html_of(client_for(people.ops).get(url, {"gap": "not_a_gap"}))
    assert table_accounts(html) == []
    assert 'data-testid="filter-error"' in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("account", ["Acme", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
        ("-account", ["Foxtrot", "Echo", "Delta", "Charlie", "Bravo", "Acme"]),
        ("stage", ["Delta", "Foxtrot", "Bravo", "Echo", "Acme", "Charlie"]),
        ("-open_pipeline", ["Acme"]),
        ("-sales", ["Acme"]),
    ],
)
def test_it_sorts(table, sort, expected):
    assert table(sort=sort)[: len(expected)] == expected


def test_it_sorts_within_a_filter(table):
    assert table(tier="1", sort="coverage") == ["Bravo", "Acme"]
    assert table(tier="1", sort="-coverage") == ["Acme", "Bravo"]


def test_it_pages_the_rows(world, people, taken):
    url = reverse("coverage:accounts", args=[world.cycle.pk])
    client = client_for(people.ops)
    first = table_accounts(html_of(client.get(url, {"per_page": 4})))
    assert first == ["Acme", "Bravo", "Charlie", "Delta"]
    second = table_accounts(html_of(client.get(url, {"per_page": 4, "page": 2})))
    assert second == ["Echo", "Foxtrot"]


def test_a_page_is_never_longer_than_100_rows(people, the_cycle):
    grow_list(people, the_cycle, 120)
    snapshot_take(cycle=the_cycle)
    url = reverse("coverage:accounts", args=[the_cycle.pk])
    client = client_for(people.ops)
    assert len(table_accounts(html_of(client.get(url)))) == 25
    assert len(table_accounts(html_of(client.get(url, {"per_page": 100_000})))) == 100


@pytest.mark.parametrize(
    ("testid", "expected"),
    [
        ("score-accounts", ["Acme", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
        ("score-fully_covered_share", ["Acme", "Charlie", "Echo"]),
        ("score-engaged_or_further_share", ["Acme", "Charlie", "Echo"]),
        ("score-open_pipeline", ["Acme"]),
        ("score-won_amount", ["Charlie"]),
        ("score-gap_missing_role", ["Bravo", "Delta"]),
        ("score-gap_no_sales_follow_up", ["Bravo"]),
        ("score-gap_single_threaded", ["Bravo"]),
        ("score-gap_gone_cold", ["Charlie"]),
        ("score-gap_no_sales_owner", ["Delta"]),
    ],
)
def test_each_scorecard_number_leads_to_the_accounts_behind_it(
    world, people, taken, testid, expected
):
    client = client_for(people.sales_member)
    dashboard = html_of(client.get(reverse("coverage:dashboard", args=[world.cycle.pk])))
    rows = table_accounts(html_of(client.get(link_of(dashboard, testid))))
    assert rows == expected


def test_a_tier_row_and_an_owner_row_lead_to_their_accounts(world, people, taken):
    client = client_for(people.marketing_member)
    dashboard = html_of(client.get(reverse("coverage:dashboard", args=[world.cycle.pk])))
    table = reverse("coverage:accounts", args=[world.cycle.pk])
    tiers = dashboard[dashboard.index('data-testid="tiers"') :]
    assert f'href="{table}?tier=2"' in tiers
    assert table_accounts(html_of(client.get(table, {"tier": 2}))) == ["Charlie", "Delta"]
    # The "missing role" cell of tier 2 holds 1 and leads to Delta.
    assert f'href="{table}?tier=2&amp;gap=missing_role">1<' in tiers
    owners = dashboard[dashboard.index('data-testid="marketing-owners"') :]
    mina = people.marketing_member
    assert f'href="{table}?marketing_owner={mina.pk}">{mina.get_full_name()}<' in owners


def test_the_table_without_a_snapshot_sends_to_the_dashboard(people, the_cycle):
    response = client_for(people.ops).get(reverse("coverage:accounts", args=[the_cycle.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("coverage:dashboard", args=[the_cycle.pk])
