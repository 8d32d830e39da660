"""What waits for a person's side: in review, their side below quorum, not yet decided by
them in this round, not their own proposal."""

from tests.factories import cycle
from tests.workflow.helpers import decide, nominate
from workflow import services
from workflow.selectors import nominations_waiting_for


def waiting(user):
    return list(nominations_waiting_for(user))


def test_it_lists_a_nomination_for_the_other_sides_people(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    assert waiting(people.sales_approver) == [n]
    assert waiting(people.sales_member) == [n]
    assert waiting(people.marketer) == [], "never your own proposal"
    assert waiting(people.marketing_approver) == [], "marketing counts the proposer already"
    assert waiting(people.ops) == []


def test_it_lists_it_for_the_proposers_side_when_the_proposer_does_not_count(people, account):
    n = nominate(people.marketer, cycle("FY27 H2", proposer_counts=False), account)

    assert waiting(people.marketing_approver) == [n]


def test_it_drops_it_for_those_who_decided_and_sides_at_quorum(people, account):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)

    decide(n, people.sales_approver)

    assert waiting(people.sales_approver) == []
    assert waiting(people.sales_approver_2) == [n]


def test_it_asks_again_after_a_resubmission(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier 2?")
    assert waiting(people.sales_approver) == []

    services.nomination_resubmit(nomination=n, by=people.marketer, tier=2)

    assert waiting(people.sales_approver) == [n]


def test_it_drops_decided_nominations(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver)

    assert waiting(people.sales_approver_2) == []
