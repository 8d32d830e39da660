"""Either side can ask for changes with a note; the proposer edits and resubmits, which starts
a new round where earlier sign-offs stay in history but no longer count."""

import pytest

from core.errors import Conflict, Invalid, NotAllowed
from tests.factories import cycle
from tests.workflow.helpers import actions, decide, events, fresh, nominate, on_list, sign_offs
from workflow import services
from workflow.models import State
from workflow.services import side_statuses


@pytest.fixture
def asked(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, tier=1)
    decide(n, people.sales_approver, "request_changes", note="Tier 2 fits better")
    return fresh(n)


def test_it_asks_for_changes_with_a_note(people, asked):
    assert asked.state == State.CHANGES_REQUESTED
    assert asked.waiting_since is None
    last = events(asked)[-1]
    assert (last.action, last.from_state, last.to_state, last.note) == (
        "request_changes",
        "in_review",
        "changes_requested",
        "Tier 2 fits better",
    )


def test_it_requires_a_note_to_request_changes(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    with pytest.raises(Invalid, match="what should change") as error:
        decide(n, people.sales_approver, "request_changes")

    assert error.value.field == "note"
    assert fresh(n).state == State.IN_REVIEW


def test_it_starts_a_new_round_on_resubmission(people, asked):
    n = services.nomination_resubmit(
        nomination=asked, by=people.marketer, tier=2, rationale="Mid-market fit", note="Done"
    )

    n = fresh(n)
    assert n.state == State.IN_REVIEW
    assert (n.round, n.tier, n.rationale) == (2, 2, "Mid-market fit")
    assert n.waiting_since is not None
    last = events(n)[-1]
    assert (last.action, last.from_state, last.to_state, last.round, last.note) == (
        "resubmitted",
        "changes_requested",
        "in_review",
        2,
        "Done",
    )


def test_it_keeps_earlier_sign_offs_in_history_but_does_not_count_them(people, account):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)
    decide(n, people.sales_approver)
    decide(n, people.sales_approver_2, "request_changes", note="Add evidence")
    services.nomination_resubmit(
        nomination=n, by=people.marketer, evidence_links=["https://globex.example/q3"]
    )

    assert [(s.person.username, s.round) for s in sign_offs(n)] == [
        ("mara", 1),
        ("sam", 1),
        ("sara", 1),
        ("mara", 2),
    ]
    assert side_statuses(fresh(n))["sales"].approvals == []

    decide(n, people.sales_approver)
    assert fresh(n).state == State.IN_REVIEW, "sam's round-1 approval must not count twice"
    assert on_list(c) == {}

    decide(n, people.sales_approver_2)
    assert fresh(n).state == State.APPROVED
    assert on_list(c) == {account.pk: 1}


def test_it_lets_only_the_proposer_resubmit(people, asked):
    with pytest.raises(NotAllowed, match="Only the proposer"):
        services.nomination_resubmit(nomination=asked, by=people.marketing_approver)

    assert fresh(asked).state == State.CHANGES_REQUESTED


def test_it_resubmits_only_after_changes_were_requested(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    with pytest.raises(Conflict, match="only one with changes requested"):
        services.nomination_resubmit(nomination=n, by=people.marketer)

    assert fresh(n).round == 1
    assert actions(n) == ["created", "submitted"]


def test_it_checks_the_new_tier_on_resubmission(people, asked):
    with pytest.raises(Invalid) as error:
        services.nomination_resubmit(nomination=asked, by=people.marketer, tier=7)

    assert error.value.field == "tier"
    assert fresh(asked).state == State.CHANGES_REQUESTED


def test_it_does_not_count_an_approval_given_only_in_an_earlier_round(people, account):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)
    decide(n, people.sales_approver)
    decide(n, people.sales_approver_2, "request_changes", note="Add evidence")
    services.nomination_resubmit(nomination=n, by=people.marketer)

    decide(n, people.sales_approver_2)

    assert fresh(n).state == State.IN_REVIEW, "sam approved round 1 only: sales has 1 of 2"
    assert [s.person for s in side_statuses(fresh(n))["sales"].approvals] == [
        people.sales_approver_2
    ]
