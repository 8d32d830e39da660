"""Lowering a quorum re-evaluates the cycle's nominations in review: one that now has enough
approvals on both sides is approved then, as the last sign-off would approve it (its event,
the list, the CRM's outbox). The capacity rule still holds: a lowering that would approve into a
full tier is refused, as that sign-off would be."""

import threading
import time

import pytest
from django.db import connection, transaction

from core.errors import Conflict
from crm.models import OutboxEntry
from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import actions, decide, events, fresh, nominate, on_list
from workflow import invariants, services
from workflow.models import CycleEvent, CycleState, Nomination, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def strict_cycle(db):
    """Sales must give two approvals; the proposer's submission counts for marketing."""
    return cycle("FY27 H2", capacities=(1, 10, 10), sales_quorum=2)


def half_approved(people, c, tier=2):
    """In review: marketing at quorum (the proposer), sales one approval short of two."""
    n = nominate(people.marketer, c, AccountFactory(), tier=tier)
    decide(n, people.sales_approver)
    assert fresh(n).state == State.IN_REVIEW
    return n


def test_a_nomination_with_enough_approvals_under_the_new_quorum_is_approved(
    people, strict_cycle, django_capture_on_commit_callbacks
):
    ready = half_approved(people, strict_cycle)
    not_ready = nominate(people.marketer, strict_cycle, AccountFactory(), tier=2)

    with django_capture_on_commit_callbacks(execute=True):
        services.cycle_update(cycle=strict_cycle, by=people.ops, sales_quorum=1)

    assert fresh(ready).state == State.APPROVED
    agreed = events(ready)[-1]
    assert (agreed.action, agreed.actor, agreed.from_state) == ("agreed", people.ops, "in_review")
    assert "Sales quorum 2 → 1" in agreed.note
    assert on_list(strict_cycle) == {ready.account_id: 2}
    assert OutboxEntry.objects.filter(account_id=ready.account_id).exists()
    # One that is not ready stays as it was.
    assert fresh(not_ready).state == State.IN_REVIEW
    assert actions(not_ready) == ["created", "submitted"]
    event = CycleEvent.objects.get(cycle=strict_cycle, action="settings_changed")
    assert f"#{ready.pk} ({ready.account.name}) approved" in event.note
    assert f"#{not_ready.pk}" not in event.note
    assert invariants.violations([strict_cycle]) == []  # decided under the quorum it met


def test_it_refuses_a_lowering_that_would_approve_into_a_full_tier(people, strict_cycle):
    # Tier 1 holds one account: the first ready nomination would take the seat, the second
    # cannot join. As that last sign-off would be, the whole change is refused.
    first = half_approved(people, strict_cycle, tier=1)
    second = half_approved(people, strict_cycle, tier=1)

    with pytest.raises(Conflict) as error:
        services.cycle_update(cycle=strict_cycle, by=people.ops, sales_quorum=1)

    assert error.value.message.startswith(
        f"Lowering the quorum would approve #{second.pk} ({second.account.name}) now, and the "
        "list refuses it: Tier 1 of FY27 H2 is full (1 of 1 accounts)"
    )
    assert error.value.field == "sales_quorum"
    strict_cycle.refresh_from_db()
    assert strict_cycle.sales_quorum == 2
    assert fresh(first).state == fresh(second).state == State.IN_REVIEW
    assert on_list(strict_cycle) == {}
    assert not CycleEvent.objects.filter(cycle=strict_cycle).exists()


def test_raising_the_capacity_in_the_same_change_lets_both_through(people, strict_cycle):
    first = half_approved(people, strict_cycle, tier=1)
    second = half_approved(people, strict_cycle, tier=1)

    services.cycle_update(
        cycle=strict_cycle, by=people.ops, sales_quorum=1, tiers={1: {"capacity": 2}}
    )

    assert fresh(first).state == fresh(second).state == State.APPROVED
    assert on_list(strict_cycle) == {first.account_id: 1, second.account_id: 1}
    assert invariants.violations([strict_cycle]) == []


def test_raising_a_quorum_approves_nothing(people, strict_cycle):
    n = half_approved(people, strict_cycle)

    services.cycle_update(cycle=strict_cycle, by=people.ops, marketing_quorum=2)

    assert fresh(n).state == State.IN_REVIEW


def test_a_closed_cycles_quorums_do_not_change(people, strict_cycle):
    n = half_approved(people, strict_cycle)
    services.cycle_set_state(cycle=strict_cycle, state=CycleState.CLOSED, by=people.ops)

    with pytest.raises(Conflict, match="FY27 H2 is closed: reopen it before changing its quorums"):
        services.cycle_update(cycle=strict_cycle, by=people.ops, sales_quorum=1)

    assert fresh(n).state == State.IN_REVIEW
    assert on_list(strict_cycle) == {}


def test_reopening_and_lowering_in_one_change_approves(people, strict_cycle):
    n = half_approved(people, strict_cycle)
    services.cycle_set_state(cycle=strict_cycle, state=CycleState.CLOSED, by=people.ops)

    services.cycle_update(
        cycle=strict_cycle, by=people.ops, state=CycleState.ACTIVE, reason="Late", sales_quorum=1
    )

    assert fresh(n).state == State.APPROVED


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_sign_off_waiting_on_the_lock_counts_against_the_lowered_quorum(people):
    """cycle_update holds the nominations' locks while it lowers the quorum; a sign-off that
    waited for one of them must see the new quorum once it gets it."""
    c = cycle("FY27 H2", sales_quorum=3)
    n = nominate(people.marketer, c, AccountFactory(), tier=2)
    decide(n, people.sales_approver)  # sales 1 of 3
    result = {}

    def sign_off():
        try:
            result["value"] = decide(n, people.sales_approver_2)
        except Exception as error:  # asserted on below
            result["value"] = error
        finally:
            connection.close()

    with transaction.atomic():
        Nomination.objects.select_for_update().get(pk=n.pk)
        thread = threading.Thread(target=sign_off)
        thread.start()
        _wait_until_a_query_waits_for_a_lock()
        # Sales 1 of 2 now: not yet agreed, so the update approves nothing itself.
        services.cycle_update(cycle=c, by=people.ops, sales_quorum=2)
    thread.join(timeout=30)

    assert not isinstance(result.get("value"), Exception), result
    assert fresh(n).state == State.APPROVED
    assert on_list(c) == {n.account_id: 2}


def _wait_until_a_query_waits_for_a_lock(timeout=10.0):
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            cursor.execute("SELECT pg_stat_clear_snapshot()")  # a fresh look each time
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                return
            time.sleep(0.01)
    raise AssertionError("the sign-off never waited for the nomination's lock")
