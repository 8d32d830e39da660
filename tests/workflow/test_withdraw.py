"""The proposer may withdraw a nomination from any open state; nobody else may."""

import pytest

from core.errors import Conflict, NotAllowed
from tests.workflow.helpers import decide, events, fresh, nominate
from workflow import services
from workflow.models import State


def withdraw(n, by, note=""):
    return services.nomination_withdraw(nomination=n, by=by, note=note)


def test_it_withdraws_a_nomination_in_review(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    withdraw(n, people.marketer, note="Merged with Initech")

    n = fresh(n)
    assert n.state == State.WITHDRAWN
    assert n.waiting_since is None
    last = events(n)[-1]
    assert (last.action, last.from_state, last.to_state, last.note, last.actor) == (
        "withdrawn",
        "in_review",
        "withdrawn",
        "Merged with Initech",
        people.marketer,
    )


def test_it_withdraws_a_draft(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, submit=False)

    withdraw(n, people.marketer)

    assert fresh(n).state == State.WITHDRAWN
    assert events(n)[-1].from_state == "draft"


def test_it_withdraws_a_nomination_with_changes_requested(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="More evidence")

    withdraw(n, people.marketer)

    assert fresh(n).state == State.WITHDRAWN
    assert events(n)[-1].from_state == "changes_requested"


@pytest.mark.parametrize("who", ["marketing_approver", "sales_approver", "ops"])
def test_it_refuses_a_withdrawal_by_anyone_but_the_proposer(people, the_cycle, account, who):
    n = nominate(people.marketer, the_cycle, account)

    with pytest.raises(NotAllowed, match="Only the proposer"):
        withdraw(n, getattr(people, who))

    assert fresh(n).state == State.IN_REVIEW


@pytest.mark.parametrize(
    "close",
    [
        lambda people, n: decide(n, people.sales_approver),
        lambda people, n: decide(n, people.sales_approver, "reject", note="No"),
        lambda people, n: withdraw(n, people.marketer),
    ],
    ids=["approved", "rejected", "withdrawn"],
)
def test_it_refuses_to_withdraw_a_closed_nomination(people, the_cycle, account, close):
    n = nominate(people.marketer, the_cycle, account)
    close(people, n)
    state = fresh(n).state

    with pytest.raises(Conflict, match="already"):
        withdraw(n, people.marketer)

    assert fresh(n).state == state


def test_it_frees_the_account_for_a_new_nomination(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    withdraw(n, people.marketer)

    again = nominate(people.sales_approver, the_cycle, account, tier=2)

    assert fresh(again).state == State.IN_REVIEW
