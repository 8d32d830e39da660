"""Decisions are taken only while a nomination is in review (409 otherwise)."""

import pytest

from core.errors import Conflict
from tests.workflow.helpers import decide, fresh, nominate, sign_offs
from workflow import services
from workflow.models import State


def draft(people, cycle, account):
    return nominate(people.marketer, cycle, account, submit=False)


def changes_requested(people, cycle, account):
    n = nominate(people.marketer, cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier?")
    return n


def approved(people, cycle, account):
    n = nominate(people.marketer, cycle, account)
    decide(n, people.sales_approver)
    return n


def rejected(people, cycle, account):
    n = nominate(people.marketer, cycle, account)
    decide(n, people.sales_approver, "reject", note="No")
    return n


def withdrawn(people, cycle, account):
    n = nominate(people.marketer, cycle, account)
    services.nomination_withdraw(nomination=n, by=people.marketer)
    return n


@pytest.mark.parametrize("make", [draft, changes_requested, approved, rejected, withdrawn])
@pytest.mark.parametrize("decision", ["approve", "reject", "request_changes"])
def test_it_refuses_decisions_outside_review(people, the_cycle, account, make, decision):
    n = make(people, the_cycle, account)
    state, count = fresh(n).state, len(sign_offs(n))

    with pytest.raises(Conflict, match="only be made while it is in review") as error:
        decide(n, people.sales_approver_2, decision, note="because")

    assert error.value.status == 409
    assert fresh(n).state == state
    assert len(sign_offs(n)) == count
    assert state != State.IN_REVIEW
