"""A nomination is approved automatically, and only, when both sides reach their quorum in
the current round from distinct people."""

import pytest

from core.errors import NotAllowed
from tests.factories import cycle, person
from tests.workflow.helpers import actions, decide, fresh, nominate, on_list
from workflow.models import SignOff, State
from workflow.services import side_statuses


@pytest.fixture
def strict_cycle(db):
    """Two approvals per side, the proposer's submission does not count."""
    return cycle("FY27 H2", marketing_quorum=2, sales_quorum=2, proposer_counts=False)


def test_it_approves_when_both_sides_reach_quorum(people, strict_cycle, account):
    n = nominate(people.marketing_member, strict_cycle, account, tier=2)

    decide(n, people.sales_approver)
    decide(n, people.marketer)
    decide(n, people.sales_approver_2)
    assert fresh(n).state == State.IN_REVIEW, "marketing has one approval of two"
    assert on_list(strict_cycle) == {}

    decide(n, people.marketing_approver)

    n = fresh(n)
    assert n.state == State.APPROVED
    assert n.decided_at is not None
    assert n.waiting_since is None
    assert on_list(strict_cycle) == {account.pk: 2}
    assert actions(n)[-2:] == ["approve", "agreed"]


def test_it_keeps_waiting_while_only_one_side_is_at_quorum(people, strict_cycle, account):
    n = nominate(people.marketing_member, strict_cycle, account)

    decide(n, people.marketer)
    decide(n, people.marketing_approver)

    statuses = side_statuses(fresh(n))
    assert statuses["marketing"].reached
    assert not statuses["sales"].reached
    assert fresh(n).state == State.IN_REVIEW
    assert on_list(strict_cycle) == {}


def test_it_counts_each_person_once(people, strict_cycle, account):
    n = nominate(people.marketing_member, strict_cycle, account)
    decide(n, people.marketer)
    decide(n, people.sales_approver)
    decide(n, people.sales_approver_2)

    with pytest.raises(NotAllowed):
        decide(n, people.marketer)

    assert fresh(n).state == State.IN_REVIEW
    assert len(side_statuses(fresh(n))["marketing"].approvals) == 1


def test_it_takes_the_side_from_the_signers_groups(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    decide(n, people.sales_approver)

    signed = SignOff.objects.get(nomination=n, person=people.sales_approver)
    assert signed.side == "sales"


def test_it_approves_with_a_larger_quorum_on_one_side(people, account):
    c = cycle("FY28 H1", marketing_quorum=1, sales_quorum=3, proposer_counts=True)
    third = person("saul", side="sales", approver=True)
    n = nominate(people.marketer, c, account)

    decide(n, people.sales_approver)
    decide(n, people.sales_approver_2)
    assert fresh(n).state == State.IN_REVIEW

    decide(n, third)
    assert fresh(n).state == State.APPROVED
    assert on_list(c) == {account.pk: 1}
