"""An approval that would overfill a tier is refused with a clear message, and nothing of it
is saved."""

import pytest

from core.errors import Conflict
from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import actions, decide, fresh, nominate, on_list, put_on_list
from workflow.models import SignOff, State, TargetAccount


@pytest.fixture
def small_cycle(db):
    return cycle("FY27 H2", capacities=(1, 1, 0))


def test_it_refuses_an_approval_when_the_tier_is_full(people, small_cycle):
    first, second = AccountFactory(name="Acme"), AccountFactory(name="Initech")
    put_on_list(people, small_cycle, first, tier=1)
    n = nominate(people.marketer, small_cycle, second, tier=1)

    with pytest.raises(Conflict) as error:
        decide(n, people.sales_approver)

    assert error.value.message.startswith("Tier 1 of FY27 H2 is full (1 of 1 accounts)")
    assert "Initech cannot join it" in error.value.message
    assert error.value.field == "tier"
    assert error.value.status == 409
    # Nothing saved: no sign-off, no event, still in review, list unchanged.
    assert fresh(n).state == State.IN_REVIEW
    assert not SignOff.objects.filter(nomination=n, person=people.sales_approver).exists()
    assert actions(n) == ["created", "submitted"]
    assert on_list(small_cycle) == {first.pk: 1}


def test_it_refuses_an_approval_into_a_tier_of_no_capacity(people, small_cycle, account):
    n = nominate(people.marketer, small_cycle, account, tier=3)

    with pytest.raises(Conflict, match="Tier 3 of FY27 H2 is full \\(0 of 0 accounts\\)"):
        decide(n, people.sales_approver)

    assert on_list(small_cycle) == {}


def test_it_lets_the_approval_through_once_a_seat_is_free(people, small_cycle):
    first, second = AccountFactory(), AccountFactory()
    put_on_list(people, small_cycle, first, tier=1)
    waiting = nominate(people.marketer, small_cycle, second, tier=1)
    with pytest.raises(Conflict):
        decide(waiting, people.sales_approver)

    removal = nominate(people.marketer, small_cycle, first, kind="remove")
    decide(removal, people.sales_approver)
    decide(waiting, people.sales_approver)

    assert fresh(waiting).state == State.APPROVED
    assert on_list(small_cycle) == {second.pk: 1}


def test_it_checks_the_new_tiers_capacity_on_a_tier_change(people, small_cycle):
    in_one, in_two = AccountFactory(), AccountFactory()
    put_on_list(people, small_cycle, in_one, tier=1)
    put_on_list(people, small_cycle, in_two, tier=2)
    move = nominate(people.marketer, small_cycle, in_two, kind="change_tier", tier=1)

    with pytest.raises(Conflict, match="Tier 1 of FY27 H2 is full"):
        decide(move, people.sales_approver)

    assert fresh(move).state == State.IN_REVIEW
    assert on_list(small_cycle) == {in_one.pk: 1, in_two.pk: 2}


def test_a_removal_never_needs_a_free_seat(people, small_cycle, account):
    put_on_list(people, small_cycle, account, tier=1)
    removal = nominate(people.marketer, small_cycle, account, kind="remove")

    decide(removal, people.sales_approver)

    assert on_list(small_cycle) == {}
    assert TargetAccount.objects.get(account=account).removed_at is not None
