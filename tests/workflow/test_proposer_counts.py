"""The proposer's submission counts as their side's first approval only where the cycle says
so, only if they are an approver, and never for the other side."""

from tests.factories import cycle
from tests.workflow.helpers import decide, fresh, nominate, on_list, sign_offs
from workflow import services
from workflow.models import State
from workflow.services import side_statuses


def test_it_counts_the_proposer_for_their_own_side(people, the_cycle, account):
    assert the_cycle.proposer_counts
    n = nominate(people.marketer, the_cycle, account)

    statuses = side_statuses(fresh(n))
    assert [s.person for s in statuses["marketing"].approvals] == [people.marketer]
    assert statuses["marketing"].reached

    decide(n, people.sales_approver)
    assert fresh(n).state == State.APPROVED


def test_it_does_not_count_the_proposer_when_the_cycle_says_not_to(people, account):
    c = cycle("FY27 H2", proposer_counts=False)
    n = nominate(people.marketer, c, account)

    assert sign_offs(n) == []
    decide(n, people.sales_approver)
    assert fresh(n).state == State.IN_REVIEW, "marketing has not approved yet"

    decide(n, people.marketing_approver)
    assert fresh(n).state == State.APPROVED


def test_it_never_counts_the_proposer_for_the_other_side(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    statuses = side_statuses(fresh(n))
    assert statuses["sales"].approvals == []
    # Another marketing approval does not stand in for sales either.
    decide(n, people.marketing_approver)
    assert fresh(n).state == State.IN_REVIEW
    assert not side_statuses(fresh(n))["sales"].reached


def test_it_does_not_count_a_proposer_who_is_not_an_approver(people, the_cycle, account):
    n = nominate(people.marketing_member, the_cycle, account)

    assert sign_offs(n) == []
    decide(n, people.sales_approver)
    assert fresh(n).state == State.IN_REVIEW, "no marketing approver has signed off"
    assert on_list(the_cycle) == {}

    decide(n, people.marketing_approver)
    assert fresh(n).state == State.APPROVED


def test_it_counts_the_proposer_again_in_a_new_round(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier 2 instead")
    services.nomination_resubmit(nomination=n, by=people.marketer, tier=2)

    statuses = side_statuses(fresh(n))
    assert [s.person for s in statuses["marketing"].approvals] == [people.marketer]
    assert all(s.round == 2 for s in statuses["marketing"].approvals)
