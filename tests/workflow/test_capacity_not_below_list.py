"""A tier's capacity can never be set below the accounts already on it."""

import pytest

from core.errors import Conflict
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list
from workflow import services
from workflow.models import CycleEvent, Tier

pytestmark = pytest.mark.django_db


def capacity(c, number):
    return Tier.objects.get(cycle=c, number=number).capacity


def test_it_refuses_a_capacity_below_the_accounts_on_the_tier(people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory(), tier=1)
    put_on_list(people, the_cycle, AccountFactory(), tier=1)

    with pytest.raises(Conflict) as error:
        services.cycle_update(cycle=the_cycle, by=people.ops, tiers={1: {"capacity": 1}})

    assert error.value.message.startswith(
        "Tier 1 of FY27 H1 has 2 accounts on the list, so its capacity cannot be set below 2"
    )
    assert error.value.field == "capacity"
    assert capacity(the_cycle, 1) == 50
    assert not CycleEvent.objects.filter(cycle=the_cycle).exists()


def test_it_refuses_the_whole_change_when_one_tier_is_refused(people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory(), tier=2)

    with pytest.raises(Conflict):
        services.cycle_update(
            cycle=the_cycle,
            by=people.ops,
            sales_quorum=2,
            tiers={1: {"capacity": 10}, 2: {"capacity": 0}},
        )

    the_cycle.refresh_from_db()
    assert (the_cycle.sales_quorum, capacity(the_cycle, 1), capacity(the_cycle, 2)) == (1, 50, 100)


def test_it_allows_a_capacity_equal_to_the_accounts_on_the_tier(people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory(), tier=1)
    removed = put_on_list(people, the_cycle, AccountFactory(), tier=1)
    removal = services.nomination_create(
        cycle=the_cycle,
        account=removed.account,
        kind="remove",
        rationale="Gone",
        by=people.marketer,
    )
    services.nomination_sign_off(nomination=removal, by=people.sales_approver, decision="approve")

    services.cycle_update(cycle=the_cycle, by=people.ops, tiers={1: {"capacity": 1}})

    assert capacity(the_cycle, 1) == 1  # the removed account no longer takes a seat
