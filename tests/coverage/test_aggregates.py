"""The cycle's, each tier's and each owner's numbers, on the hand-built data set."""

import pytest

from coverage.services import snapshot_take

NO_GAPS = dict.fromkeys(
    [
        "no_sales_follow_up",
        "missing_role",
        "single_threaded",
        "gone_cold",
        "no_sales_owner",
        "no_marketing_owner",
    ],
    0,
)


@pytest.fixture
def aggregates(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of).aggregates


def test_it_sums_the_cycle(aggregates):
    assert aggregates["cycle"] == {
        "accounts": 6,
        "fully_covered_share": 0.5,  # Acme, Charlie, Echo
        "engaged_or_further_share": 0.5,  # Acme (opportunity), Charlie (customer), Echo
        "open_pipeline": "50000.00",
        "won_amount": "20000.00",
        "gaps": {
            "no_sales_follow_up": 1,
            "missing_role": 2,
            "single_threaded": 1,
            "gone_cold": 1,
            "no_sales_owner": 1,
            "no_marketing_owner": 2,
        },
    }


def test_it_sums_each_tier(aggregates):
    tiers = {row.pop("tier"): row for row in aggregates["tiers"]}
    assert tiers[1] == {
        "accounts": 2,
        "fully_covered_share": 0.5,
        "engaged_or_further_share": 0.5,
        "open_pipeline": "50000.00",
        "won_amount": "0.00",
        "gaps": {
            **NO_GAPS,
            "no_sales_follow_up": 1,
            "missing_role": 1,
            "single_threaded": 1,
            "no_marketing_owner": 1,
        },
    }
    assert tiers[2]["won_amount"] == "20000.00"
    assert tiers[2]["gaps"] == {
        **NO_GAPS,
        "missing_role": 1,
        "gone_cold": 1,
        "no_sales_owner": 1,
        "no_marketing_owner": 1,
    }
    assert tiers[3]["fully_covered_share"] == 0.5  # Echo; Foxtrot has no contact
    assert tiers[3]["gaps"] == NO_GAPS


def test_it_sums_each_owner_on_each_side_and_the_accounts_without_one(aggregates, people):
    sales = {(row["owner"] or {}).get("username"): row for row in aggregates["sales_owners"]}
    assert sorted(sales, key=str) == [None, "sid"]
    assert sales["sid"]["accounts"] == 5
    assert sales["sid"]["owner"]["id"] == people.sales_member.pk
    assert sales[None]["accounts"] == 1  # Delta
    assert sales[None]["gaps"]["no_sales_owner"] == 1
    marketing = {
        (row["owner"] or {}).get("username"): row for row in aggregates["marketing_owners"]
    }
    assert marketing["mina"]["accounts"] == 4
    assert marketing[None]["accounts"] == 2  # Bravo, Delta
    assert marketing["mina"]["open_pipeline"] == "50000.00"


def test_it_counts_the_accounts_in_each_stage(aggregates):
    assert aggregates["stages"]["accounts"] == {
        "targeted": 2,
        "aware": 1,
        "engaged": 1,
        "opportunity": 1,
        "customer": 1,
    }


def test_the_first_snapshot_has_no_trend(aggregates):
    assert aggregates["trend"] == {"previous": None, "first": None}
