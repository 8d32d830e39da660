"""A cycle's settings change only through workflow.services.cycle_update (ops only), and each
change writes a `settings_changed` event naming who changed which field, old → new."""

import datetime as dt

import pytest

from core.errors import Conflict, Invalid, NotAllowed
from tests.factories import AccountFactory, cycle
from workflow import invariants, services
from workflow.models import CycleEvent, CycleState, State, Tier

pytestmark = pytest.mark.django_db


def settings_events(c):
    return list(CycleEvent.objects.filter(cycle=c, action="settings_changed").order_by("pk"))


def test_each_change_is_recorded_with_its_actor_and_old_and_new_values(people, the_cycle):
    Tier.objects.filter(cycle=the_cycle, number=2).update(required_roles=["champion"])

    services.cycle_update(
        cycle=the_cycle,
        by=people.ops,
        marketing_quorum=2,
        proposer_counts=False,
        reminder_after_hours=24,
        escalate_after_hours=48,
        tiers={1: {"capacity": 40}, 2: {"required_roles": ["decision_maker", "champion"]}},
        reason="Bigger team this half",
    )

    [event] = settings_events(the_cycle)
    assert event.actor == people.ops
    assert event.from_state == event.to_state == CycleState.ACTIVE
    assert event.note == "Bigger team this half"
    assert event.changes == [
        {"field": "marketing_quorum", "tier": None, "old": 1, "new": 2},
        {"field": "proposer_counts", "tier": None, "old": True, "new": False},
        {"field": "reminder_after_hours", "tier": None, "old": 72, "new": 24},
        {"field": "escalate_after_hours", "tier": None, "old": 168, "new": 48},
        {"field": "capacity", "tier": 1, "old": 50, "new": 40},
        {
            "field": "required_roles",
            "tier": 2,
            "old": ["champion"],
            "new": ["decision_maker", "champion"],
        },
    ]
    the_cycle.refresh_from_db()
    assert (the_cycle.marketing_quorum, the_cycle.proposer_counts) == (2, False)
    assert (the_cycle.reminder_after_hours, the_cycle.escalate_after_hours) == (24, 48)
    assert Tier.objects.get(cycle=the_cycle, number=1).capacity == 40
    assert Tier.objects.get(cycle=the_cycle, number=2).required_roles == [
        "decision_maker",
        "champion",
    ]


def test_saving_the_same_values_writes_no_event(people, the_cycle):
    services.cycle_update(
        cycle=the_cycle,
        by=people.ops,
        marketing_quorum=1,
        name="FY27 H1",
        tiers={1: {"capacity": 50, "required_roles": []}},
    )

    assert settings_events(the_cycle) == []


def test_only_ops_change_a_cycles_settings(people, the_cycle):
    with pytest.raises(NotAllowed, match="Only revenue operations"):
        services.cycle_update(cycle=the_cycle, by=people.sales_approver, sales_quorum=3)

    the_cycle.refresh_from_db()
    assert the_cycle.sales_quorum == 1 and settings_events(the_cycle) == []


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"sales_quorum": 0}, Invalid, "at least one approval"),
        ({"escalate_after_hours": 10}, Invalid, "Escalate no sooner than the reminder"),
        ({"ends_on": dt.date(2026, 12, 1)}, Invalid, "must end after it starts"),
        ({"name": "FY27 H2"}, Conflict, "already exists"),
        ({"tiers": {1: {"capacity": -1}}}, Invalid, "capacity of 0 or more"),
        ({"tiers": {2: {"required_roles": ["astrologer"]}}}, Invalid, "buying roles"),
        ({"state_of_mind": "calm"}, Invalid, "not settings of a cycle"),
    ],
)
def test_it_refuses_settings_that_cannot_hold(people, the_cycle, changes, error, message):
    cycle("FY27 H2")

    with pytest.raises(error, match=message):
        services.cycle_update(cycle=the_cycle, by=people.ops, **changes)

    assert settings_events(the_cycle) == []


def test_a_state_change_and_settings_in_one_call_write_both_events(people):
    c = cycle("FY28 H1", state=CycleState.PLANNING)

    services.cycle_update(cycle=c, by=people.ops, state=CycleState.ACTIVE, sales_quorum=2)

    assert list(
        CycleEvent.objects.filter(cycle=c).order_by("pk").values_list("action", "to_state")
    ) == [
        ("activated", "active"),
        ("settings_changed", "active"),
    ]


def test_a_quorum_raised_after_an_approval_leaves_that_agreement_valid(people, the_cycle):
    n = services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(),
        kind="add",
        tier=1,
        rationale="Fit",
        by=people.marketer,
    )
    services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")

    services.cycle_update(cycle=the_cycle, by=people.ops, sales_quorum=3, marketing_quorum=2)

    assert invariants.violations([the_cycle]) == []
    n.refresh_from_db()
    assert n.state == State.APPROVED
