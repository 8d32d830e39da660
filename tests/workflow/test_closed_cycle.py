"""A closed cycle's list can no longer change."""

import pytest

from core.errors import Conflict, NotAllowed
from tests.workflow.helpers import decide, fresh, nominate, on_list
from workflow import services
from workflow.models import CycleState, Nomination, State


def close(cycle, people):
    return services.cycle_set_state(cycle=cycle, state=CycleState.CLOSED, by=people.ops)


def test_it_refuses_nominations_in_a_closed_cycle(people, the_cycle, account):
    close(the_cycle, people)

    with pytest.raises(Conflict, match="closed"):
        nominate(people.marketer, the_cycle, account)

    assert not Nomination.objects.exists()


def test_it_refuses_to_submit_a_draft_once_the_cycle_is_closed(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, submit=False)
    close(the_cycle, people)

    with pytest.raises(Conflict, match="closed"):
        services.nomination_submit(nomination=n, by=people.marketer)

    assert fresh(n).state == State.DRAFT


def test_it_refuses_decisions_once_the_cycle_is_closed(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    close(the_cycle, people)

    with pytest.raises(Conflict, match="closed"):
        decide(n, people.sales_approver)

    assert fresh(n).state == State.IN_REVIEW
    assert on_list(the_cycle) == {}


def test_it_refuses_resubmission_once_the_cycle_is_closed(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier 2?")
    close(the_cycle, people)

    with pytest.raises(Conflict, match="closed"):
        services.nomination_resubmit(nomination=n, by=people.marketer, tier=2)

    assert fresh(n).state == State.CHANGES_REQUESTED


def test_only_ops_close_a_cycle(people, the_cycle):
    with pytest.raises(NotAllowed):
        services.cycle_set_state(cycle=the_cycle, state=CycleState.CLOSED, by=people.marketer)


def test_a_closed_cycles_drafts_and_open_nominations_are_read_only(people, the_cycle, account):
    draft = nominate(people.marketer, the_cycle, account, submit=False)
    close(the_cycle, people)

    with pytest.raises(Conflict, match="closed"):
        services.nomination_update(nomination=draft, by=people.marketer, rationale="New")
    with pytest.raises(Conflict, match="closed"):
        services.nomination_withdraw(nomination=draft, by=people.marketer)

    kept = fresh(draft)
    assert (kept.state, kept.rationale) == (State.DRAFT, draft.rationale)
