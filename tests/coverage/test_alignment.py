"""Alignment, the same scorecard for both sides, on nominations made through the workflow's
services at moments set by hand (hours after T0):

    N1  marketing (mara) proposes at 0; sales (sam) approves at 10            approved
    N2  sales (sam) proposes at 0; marketing (milo) rejects at 30             rejected
    N3  marketing proposes at 0; sales (sara) asks changes at 4; resubmitted
        at 6; sales (sam) approves at 20                                      approved
    N4  sales (sam) proposes at 0 and withdraws at 2                          withdrawn
    N5  marketing (mina, not an approver) proposes at 0; nobody decides       open
    ops publish version 1 at 15; as_of is 50.
"""

import datetime as dt

import pytest

from coverage.services import snapshot_take
from tests.coverage.helpers import at
from tests.factories import AccountFactory
from workflow import services

T0 = dt.datetime(2027, 2, 1, 9, 0, tzinfo=dt.UTC)


def hours(n):
    return T0 + dt.timedelta(hours=n)


@pytest.fixture
def alignment(people, the_cycle):
    def nominate(person, name, **owners):
        account = AccountFactory(name=name, **owners)
        return services.nomination_create(
            cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=person
        )

    def decide(nomination, person, decision, note=""):
        services.nomination_sign_off(nomination=nomination, by=person, decision=decision, note=note)

    with at(hours(0)):
        n1 = nominate(
            people.marketer,
            "N1",
            sales_owner=people.sales_member,
            marketing_owner=people.marketing_member,
        )
        n2 = nominate(people.sales_approver, "N2")
        n3 = nominate(people.marketer, "N3")
        n4 = nominate(people.sales_approver, "N4")
        n5 = nominate(people.marketing_member, "N5")
        services.comment_create(nomination=n1, by=people.marketer, body="Strong fit")
        services.comment_create(nomination=n2, by=people.marketer, body="Why now?")
        services.comment_create(nomination=n2, by=people.sales_approver, body="Budget cycle")
        services.comment_create(nomination=n3, by=people.ops, body="Check the domain")
    with at(hours(2)):
        services.nomination_withdraw(nomination=n4, by=people.sales_approver)
    with at(hours(4)):
        decide(n3, people.sales_approver_2, "request_changes", "Tier 2?")
    with at(hours(6)):
        services.nomination_resubmit(nomination=n3, by=people.marketer, rationale="Fit, really")
    with at(hours(10)):
        decide(n1, people.sales_approver, "approve")
    with at(hours(15)):
        services.list_version_publish(cycle=the_cycle, by=people.ops)
    with at(hours(20)):
        decide(n3, people.sales_approver, "approve")
    with at(hours(30)):
        decide(n2, people.marketing_approver, "reject", "Not our market")
    assert n5  # still open
    return snapshot_take(cycle=the_cycle, as_of=hours(50)).alignment


def test_it_shares_the_nominations_out_by_outcome(alignment):
    assert alignment["nominations"] == {
        "total": 5,
        "approved": 2,
        "rejected": 1,
        "withdrawn": 1,
        "open": 1,
        "disputed": 2,  # N2 rejected, N3 had changes asked
        "approved_share": 0.4,
        "rejected_share": 0.2,
        "withdrawn_share": 0.2,
        "open_share": 0.2,
        "disputed_share": 0.4,
    }


def test_it_gives_median_and_90th_percentile_hours_from_submission_to_decision(alignment):
    # N1 10 h, N3 20 h (from its first submission), N2 30 h; interpolated like percentile_cont.
    assert alignment["hours_to_decision"] == {"decided": 3, "median": 20.0, "p90": 28.0}


def test_it_gives_the_hours_each_side_kept_nominations_waiting(alignment):
    # Marketing: N2 30, N4 2, N5 50 (its proposer is no approver); its own proposals wait
    # on it 0 h (the proposer's submission counts). Sales: N1 10, N3 4 + 14, N5 50.
    assert alignment["hours_waiting"] == {"marketing": 82.0, "sales": 78.0}


def test_it_shares_proposals_decisions_and_comments_out_by_side(alignment):
    assert alignment["proposals"] == {
        "total": 5,
        "marketing": 3,
        "sales": 2,
        "marketing_share": 0.6,
        "sales_share": 0.4,
    }
    # The proposers' own submissions are not decisions: sam twice and sara for sales,
    # milo for marketing.
    assert alignment["decisions"] == {
        "total": 4,
        "marketing": 1,
        "sales": 3,
        "marketing_share": 0.25,
        "sales_share": 0.75,
    }
    # Revenue operations' comment counts in the total, for neither side.
    assert alignment["comments"] == {
        "total": 4,
        "marketing": 2,
        "sales": 1,
        "marketing_share": 0.5,
        "sales_share": 0.25,
    }


def test_it_gives_the_share_of_target_accounts_with_both_owners(alignment):
    assert alignment["both_owners_share"] == 0.5  # N1 has both; N3 neither


def test_it_counts_the_changes_to_the_list_after_its_first_published_version(alignment):
    assert alignment["list_changes_after_first_version"] == {
        "first_version": 1,
        "published_at": hours(15).isoformat(),
        "changes": 1,  # N3, approved at 20; N1 (at 10) was in version 1
        "added": 1,
        "tier_changed": 0,
        "removed": 0,
    }


def test_without_a_published_version_there_is_no_list_change_count(people, the_cycle):
    snapshot = snapshot_take(cycle=the_cycle)
    assert snapshot.alignment["list_changes_after_first_version"] is None
    assert snapshot.alignment["nominations"]["approved_share"] is None
