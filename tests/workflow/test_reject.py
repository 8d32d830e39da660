"""Either side can reject a nomination (a veto), with a reason."""

import pytest

from core.errors import Conflict, Invalid
from tests.factories import cycle
from tests.workflow.helpers import actions, decide, events, fresh, nominate, on_list
from workflow.models import SignOff, State


def test_it_rejects_on_a_veto_from_the_other_side(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    decide(n, people.sales_approver, "reject", note="No budget this year")

    n = fresh(n)
    assert n.state == State.REJECTED
    assert n.decided_at is not None
    assert n.waiting_since is None
    assert on_list(the_cycle) == {}
    last = events(n)[-1]
    assert (last.action, last.from_state, last.to_state) == ("reject", "in_review", "rejected")
    assert last.note == "No budget this year"


def test_it_rejects_on_a_veto_from_the_proposers_own_side(people, account):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)
    decide(n, people.sales_approver)

    decide(n, people.marketing_approver, "reject", note="We have no campaign for them")

    assert fresh(n).state == State.REJECTED
    assert on_list(c) == {}


def test_it_rejects_even_after_one_side_has_approved(people, account):
    c = cycle("FY27 H2", marketing_quorum=2)
    n = nominate(people.marketer, c, account)
    decide(n, people.sales_approver)

    decide(n, people.sales_approver_2, "reject", note="Overlaps with an existing deal")

    assert fresh(n).state == State.REJECTED


@pytest.mark.parametrize("note", ["", "   "])
def test_it_requires_a_reason_to_reject(people, the_cycle, account, note):
    n = nominate(people.marketer, the_cycle, account)

    with pytest.raises(Invalid, match="reason") as error:
        decide(n, people.sales_approver, "reject", note=note)

    assert error.value.field == "note"
    assert fresh(n).state == State.IN_REVIEW
    assert not SignOff.objects.filter(person=people.sales_approver).exists()
    assert actions(n) == ["created", "submitted"]


def test_it_refuses_decisions_after_a_rejection(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "reject", note="No")

    with pytest.raises(Conflict, match="rejected"):
        decide(n, people.sales_approver_2)

    assert fresh(n).state == State.REJECTED
    assert on_list(the_cycle) == {}
