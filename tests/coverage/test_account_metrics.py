"""Each number of a target account, on the hand-built data set (tests/coverage/conftest.py)."""

import datetime as dt
from decimal import Decimal

import pytest

from coverage.models import AccountCoverage
from coverage.services import snapshot_take


@pytest.fixture
def rows(world):
    snapshot = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    return {row.account.name: row for row in AccountCoverage.objects.filter(snapshot=snapshot)}


def column(rows, field):
    return {name: getattr(row, field) for name, row in sorted(rows.items())}


def test_it_writes_one_row_per_target_account(rows):
    assert sorted(rows) == ["Acme", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]


def test_buying_committee_coverage_counts_required_roles_with_a_contact(rows):
    assert column(rows, "coverage") == {
        "Acme": 1.0,
        "Bravo": pytest.approx(1 / 3),
        "Charlie": 1.0,
        "Delta": 0.0,
        "Echo": 1.0,  # tier 3 requires no role: any contact covers it
        "Foxtrot": 0.0,  # … and without a contact nothing does
    }
    assert rows["Bravo"].covered_roles == ["decision_maker"]
    assert rows["Bravo"].missing_roles == ["champion", "budget_holder"]
    assert rows["Delta"].missing_roles == ["decision_maker"]
    assert rows["Echo"].required_roles == []


def test_a_contact_with_several_roles_counts_in_each(rows):
    # Acme's first contact is decision maker and champion; the second is budget holder.
    assert rows["Acme"].covered_roles == ["decision_maker", "champion", "budget_holder"]
    assert rows["Acme"].missing_roles == []
    assert rows["Acme"].contacts == 2


def test_engaged_contacts_had_an_activity_or_were_last_engaged_in_30_days(rows):
    assert column(rows, "engaged_contacts") == {
        "Acme": 2,  # both had activities in the window, one is also last engaged in it
        "Bravo": 1,  # last_engaged_at 20 days ago; the other's activity is 40 days old
        "Charlie": 0,
        "Delta": 0,
        "Echo": 2,  # one by activity, one by activity (its last_engaged_at 31 days is outside)
        "Foxtrot": 0,
    }
    assert column(rows, "contacts") == {
        "Acme": 2,
        "Bravo": 2,
        "Charlie": 1,
        "Delta": 0,
        "Echo": 2,
        "Foxtrot": 0,
    }


def test_touches_are_counted_per_side_over_30_and_90_days(rows):
    touches = {
        name: (
            row.marketing_touches_30d,
            row.sales_touches_30d,
            row.marketing_touches_90d,
            row.sales_touches_90d,
        )
        for name, row in rows.items()
    }
    assert touches == {
        "Acme": (1, 2, 1, 2),
        "Bravo": (1, 0, 2, 0),
        "Charlie": (0, 0, 1, 1),
        "Delta": (0, 0, 0, 0),
        # The sales call exactly 30 days before as_of is in the 90 days only; the marketing
        # e-mail after as_of is in neither.
        "Echo": (1, 1, 1, 2),
        "Foxtrot": (0, 0, 0, 0),  # 100 days ago
    }


def test_open_pipeline_and_won_amount_come_from_the_opportunities(rows):
    assert column(rows, "open_opportunities") == {
        "Acme": 1,
        "Bravo": 0,
        "Charlie": 0,
        "Delta": 0,
        "Echo": 0,
        "Foxtrot": 0,
    }
    assert rows["Acme"].open_pipeline == Decimal("50000.00")
    assert rows["Charlie"].won_amount == Decimal("20000.00")  # the lost deal counts nowhere
    assert rows["Echo"].open_pipeline == rows["Echo"].won_amount == Decimal("0")


def test_the_stage_is_the_last_one_whose_rule_holds(rows):
    assert column(rows, "stage") == {
        "Acme": "opportunity",  # an open deal, though also engaged
        "Bravo": "aware",  # touched in 90 days, one engaged contact, one side
        "Charlie": "customer",
        "Delta": "targeted",
        "Echo": "engaged",
        "Foxtrot": "targeted",  # its only touch is older than 90 days
    }


def test_the_first_snapshot_starts_every_stage_on_its_day(rows, world):
    assert set(column(rows, "stage_since").values()) == {world.as_of.date()}
    assert all(isinstance(row.stage_since, dt.date) for row in rows.values())


def test_each_gap_is_flagged_where_its_rule_holds(rows):
    assert {name: row.gaps for name, row in sorted(rows.items())} == {
        "Acme": [],
        "Bravo": ["no_sales_follow_up", "missing_role", "single_threaded", "no_marketing_owner"],
        "Charlie": ["gone_cold"],
        "Delta": ["missing_role", "no_sales_owner", "no_marketing_owner"],
        "Echo": [],
        "Foxtrot": [],
    }


def test_a_contact_counts_once_and_only_with_its_own_accounts_activities(world):
    # An activity recorded on Foxtrot that names one of Echo's contacts (a CRM may associate
    # them so): a touch of Foxtrot, yet neither a contact nor an engaged contact of Foxtrot,
    # and Echo's contact neither counted twice nor engaged by it.
    from accounts_app.models import Contact
    from tests.coverage.helpers import DAY, touch

    echo_contact = Contact.objects.filter(account=world.accounts["Echo"]).order_by("pk").last()
    touch(world.accounts["Foxtrot"], "sales", world.as_of - 2 * DAY, contact=echo_contact)
    touch(world.accounts["Acme"], "sales", world.as_of - 2 * DAY, contact=echo_contact)
    snapshot = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    rows = {row.account.name: row for row in AccountCoverage.objects.filter(snapshot=snapshot)}
    assert (rows["Foxtrot"].contacts, rows["Foxtrot"].engaged_contacts) == (0, 0)
    assert rows["Foxtrot"].sales_touches_30d == 1
    assert (rows["Echo"].contacts, rows["Echo"].engaged_contacts) == (2, 2)
    assert (rows["Acme"].contacts, rows["Acme"].engaged_contacts) == (2, 2)
    assert rows["Acme"].sales_touches_30d == 3
