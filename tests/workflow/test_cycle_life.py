"""A cycle's life, planning → active → closed, is a declared state machine changed only by
workflow.services.cycle_set_state: locked, audited, and told to the CRM when it closes."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from core.errors import Conflict, Invalid, NotAllowed
from crm.models import OutboxEntry
from crm.selectors import current_targets
from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import decide, fresh, nominate, put_on_list
from workflow import selectors, services
from workflow.models import CycleEvent, CycleState, State
from workflow.tasks import remind_waiting_nominations

pytestmark = pytest.mark.django_db


def set_state(c, state, by, reason=""):
    return services.cycle_set_state(cycle=c, state=state, by=by, reason=reason)


def history(c) -> list[tuple[str, str, str, str]]:
    return list(
        CycleEvent.objects.filter(cycle=c)
        .order_by("pk")
        .values_list("action", "from_state", "to_state", "actor__username")
    )


def test_ops_open_close_and_reopen_a_cycle_with_a_reason_each_step_in_its_history(people):
    c = cycle("FY28 H1", state=CycleState.PLANNING)

    set_state(c, CycleState.ACTIVE, people.ops)
    set_state(c, CycleState.CLOSED, people.ops)
    reopened = set_state(c, CycleState.ACTIVE, people.ops, reason="Closed a month early")

    assert reopened.state == CycleState.ACTIVE
    assert history(c) == [
        ("activated", "planning", "active", "olga"),
        ("closed", "active", "closed", "olga"),
        ("reopened", "closed", "active", "olga"),
    ]
    assert CycleEvent.objects.filter(cycle=c).last().note == "Closed a month early"


def test_a_closed_cycle_does_not_reopen_without_a_reason(people):
    c = cycle("FY28 H1", state=CycleState.PLANNING)
    set_state(c, CycleState.CLOSED, people.ops)

    with pytest.raises(Invalid, match="Say why"):
        set_state(c, CycleState.ACTIVE, people.ops, reason="  ")

    assert fresh_cycle(c).state == CycleState.CLOSED


def test_only_declared_transitions_are_allowed(people):
    c = cycle("FY28 H1", state=CycleState.PLANNING)
    set_state(c, CycleState.ACTIVE, people.ops)

    with pytest.raises(Conflict, match="cannot go back to planning"):
        set_state(c, CycleState.PLANNING, people.ops)
    with pytest.raises(Conflict, match="already active"):
        set_state(c, CycleState.ACTIVE, people.ops)
    with pytest.raises(AttributeError):
        c.state = CycleState.CLOSED  # no shortcut around the service
    assert len(history(c)) == 1


def test_only_ops_change_a_cycles_state(people):
    c = cycle("FY28 H1", state=CycleState.PLANNING)

    with pytest.raises(NotAllowed):
        set_state(c, CycleState.CLOSED, people.sales_approver)

    assert fresh_cycle(c).state == CycleState.PLANNING and not history(c)


def test_closing_tells_the_crm_and_an_account_on_no_other_open_list_stops_being_a_target(
    people, the_cycle, django_capture_on_commit_callbacks
):
    only_here = put_on_list(people, the_cycle, AccountFactory(domain="only.example"))
    elsewhere = put_on_list(people, the_cycle, AccountFactory(domain="both.example"))
    other = cycle("FY28 H1")
    put_on_list(people, other, elsewhere.account, tier=2)
    OutboxEntry.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        set_state(the_cycle, CycleState.CLOSED, people.ops)

    queued = set(OutboxEntry.objects.values_list("account_id", flat=True))
    assert queued == {only_here.account_id, elsewhere.account_id}
    targets = current_targets([only_here.account_id, elsewhere.account_id])
    assert only_here.account_id not in targets
    assert targets[elsewhere.account_id]["cycle"] == "FY28 H1"


def test_a_closed_cycles_open_nominations_leave_the_queue_and_are_not_chased(
    people, the_cycle, account, django_capture_on_commit_callbacks
):
    n = nominate(people.marketer, the_cycle, account)
    assert n in selectors.nominations_waiting_for(people.sales_approver)

    set_state(the_cycle, CycleState.CLOSED, people.ops)

    assert n not in selectors.nominations_waiting_for(people.sales_approver)
    later = timezone.now() + timedelta(days=30)
    assert services.nomination_remind(nomination=n, escalate=True, now=later) is False
    assert remind_waiting_nominations() == {"reminded": 0, "escalated": 0}
    assert fresh(n).state == State.IN_REVIEW  # kept as it was, read-only


def fresh_cycle(c):
    return type(c).objects.get(pk=c.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_close_that_commits_first_wins_over_a_concurrent_approval(people):
    if connection.vendor != "postgresql":
        pytest.skip("a row lock race needs PostgreSQL")
    for attempt in range(5):
        c = cycle(f"Race {attempt}")
        n = nominate(people.marketer, c, AccountFactory())
        barrier = threading.Barrier(2)
        outcome = {}

        def run(name, call, barrier=barrier, outcome=outcome):
            try:
                barrier.wait(timeout=10)
                outcome[name] = call()
            except Conflict as error:
                outcome[name] = error
            finally:
                connection.close()

        threads = [
            threading.Thread(
                target=run, args=("approve", lambda n=n: decide(n, people.sales_approver))
            ),
            threading.Thread(
                target=run,
                args=("close", lambda c=c: set_state(c, CycleState.CLOSED, people.ops)),
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)

        closed_at = CycleEvent.objects.get(cycle=c, action="closed").created_at
        n = fresh(n)
        if n.state == State.APPROVED:
            assert n.decided_at <= closed_at  # the approval committed first
        else:
            assert isinstance(outcome["approve"], Conflict)
            assert not n.cycle.targets.exists()
