"""The outbox: written with the approval, pushed after commit, claimed once, taken over when a
worker dies, coalesced, and never in the way of an approval."""

import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts_app.services import account_update
from core.errors import Conflict
from crm import outbox, services
from crm.models import OutboxEntry, OutboxState, SyncRun
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, fresh, nominate, put_on_list
from workflow.models import State, TargetAccount

pytestmark = pytest.mark.django_db


def test_an_approval_writes_its_outbox_entry(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, tier=2)
    assert not OutboxEntry.objects.exists()

    decide(n, people.sales_approver)

    entry = OutboxEntry.objects.get()
    assert (entry.account, entry.cycle, entry.change) == (account, the_cycle, "added")
    assert (entry.state, entry.attempts, entry.version) == (OutboxState.PENDING, 0, 1)


def test_a_refused_approval_writes_no_outbox_entry(people, account):
    from tests.factories import cycle

    full = cycle("Full", capacities=(0, 1, 1))
    n = nominate(people.marketer, full, account, tier=1)

    with pytest.raises(Conflict):
        decide(n, people.sales_approver)

    assert not OutboxEntry.objects.exists()


def test_a_tier_change_and_a_removal_are_recorded(people, the_cycle, account, sam):
    put_on_list(people, the_cycle, account, tier=3)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)

    decide(nominate(people.marketer, the_cycle, account, kind="change_tier", tier=1), sam)
    changed = OutboxEntry.objects.get(state=OutboxState.PENDING)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)
    decide(nominate(people.marketer, the_cycle, account, kind="remove"), people.sales_approver)
    removed = OutboxEntry.objects.get(state=OutboxState.PENDING)

    assert (changed.change, removed.change) == ("tier_changed", "removed")


@pytest.fixture
def sam(people):
    return people.sales_approver


def test_changes_waiting_for_the_same_account_are_coalesced(people, the_cycle, account, sam):
    put_on_list(people, the_cycle, account, tier=3)
    decide(nominate(people.marketer, the_cycle, account, kind="change_tier", tier=2), sam)

    entry = OutboxEntry.objects.get()
    assert (entry.change, entry.version) == ("tier_changed", 2)


def test_a_new_change_revives_a_dead_letter(people, the_cycle, account, sam):
    put_on_list(people, the_cycle, account, tier=3)
    OutboxEntry.objects.update(state=OutboxState.FAILED, attempts=8, last_error="refused")

    decide(nominate(people.marketer, the_cycle, account, kind="change_tier", tier=1), sam)

    entry = OutboxEntry.objects.get()
    assert (entry.state, entry.attempts, entry.change) == ("pending", 0, "tier_changed")


def test_new_owners_of_an_account_on_the_list_reach_its_entry_and_the_outbox(
    people, the_cycle, account
):
    target = put_on_list(people, the_cycle, account)
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)

    account_update(
        account=account,
        by=people.ops,
        sales_owner=people.sales_approver,
        marketing_owner=people.marketer,
    )

    target.refresh_from_db()
    assert (target.sales_owner, target.marketing_owner) == (people.sales_approver, people.marketer)
    entry = OutboxEntry.objects.get(state=OutboxState.PENDING)
    assert entry.change == "owners_changed"


def test_editing_an_account_on_no_list_queues_nothing(people):
    loner = AccountFactory()

    account_update(account=loner, by=people.ops, sales_owner=people.sales_approver)

    assert not OutboxEntry.objects.exists()


def test_editing_other_fields_of_a_listed_account_queues_it_without_touching_owners(
    people, the_cycle, account
):
    target = put_on_list(people, the_cycle, account)
    updated_at = target.updated_at
    OutboxEntry.objects.update(state=OutboxState.DELIVERED)

    account_update(account=account, by=people.ops, name="Globex Corporation")

    target.refresh_from_db()
    assert target.updated_at == updated_at
    assert OutboxEntry.objects.get(state=OutboxState.PENDING).change == "account_changed"


def test_the_push_is_queued_after_commit(
    people, the_cycle, account, django_capture_on_commit_callbacks
):
    n = nominate(people.marketer, the_cycle, account)
    with django_capture_on_commit_callbacks(execute=True):
        decide(n, people.sales_approver)

    # CRM_BACKEND=none: delivered without a request, and no run recorded.
    entry = OutboxEntry.objects.get()
    assert (entry.state, entry.backend) == (OutboxState.DELIVERED, "none")
    assert not SyncRun.objects.exists()


def test_the_approval_stands_when_the_broker_is_down(
    people, the_cycle, account, django_capture_on_commit_callbacks, broker_down, caplog
):
    n = nominate(people.marketer, the_cycle, account)

    with (
        caplog.at_level(logging.WARNING, "crm.outbox"),
        django_capture_on_commit_callbacks(execute=True),
    ):
        decide(n, people.sales_approver)

    assert fresh(n).state == State.APPROVED
    assert TargetAccount.objects.filter(account=account, removed_at__isnull=True).exists()
    assert OutboxEntry.objects.get().state == OutboxState.PENDING
    assert "the sweeper will deliver them" in caplog.text


def test_each_entry_is_claimed_by_one_pusher(people, the_cycle):
    for _ in range(5):
        outbox.record(account_id=AccountFactory().pk, change="added")

    _, first = outbox.claim(limit=3)
    _, second = outbox.claim(limit=3)
    _, third = outbox.claim(limit=3)

    assert len(first) == 3 and len(second) == 2 and third == []
    assert not {e.pk for e in first} & {e.pk for e in second}
    states = OutboxEntry.objects.filter(pk__in=[e.pk for e in first + second])
    assert set(states.values_list("state", flat=True)) == {OutboxState.IN_FLIGHT}


def test_a_dead_workers_entries_are_taken_over_when_its_lease_runs_out(people):
    outbox.record(account_id=AccountFactory().pk, change="added")
    dead_token, taken = outbox.claim(limit=10)

    assert outbox.claim(limit=10)[1] == []  # leased
    OutboxEntry.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    new_token, retaken = outbox.claim(limit=10)

    assert [e.pk for e in retaken] == [e.pk for e in taken]
    # The dead worker, back from the dead, can no longer settle them.
    assert outbox.settle_delivered(dead_token, [taken[0].pk], backend="hubspot", run_id=None) == 0
    assert OutboxEntry.objects.get().state == OutboxState.IN_FLIGHT
    assert outbox.settle_delivered(new_token, [taken[0].pk], backend="hubspot", run_id=None) == 1
    assert OutboxEntry.objects.get().state == OutboxState.DELIVERED


def test_an_entry_changed_while_in_flight_is_pushed_again(people):
    account = AccountFactory()
    outbox.record(account_id=account.pk, change="added")
    token, [entry] = outbox.claim(limit=10)

    outbox.record(account_id=account.pk, change="tier_changed")  # during the push
    outbox.settle_delivered(token, [entry.pk], backend="hubspot", run_id=None)

    saved = OutboxEntry.objects.get()
    assert (saved.state, saved.change, saved.delivered_at) == ("pending", "tier_changed", None)
    assert outbox.claim(limit=10)[1] == [entry]


def test_the_sweeper_leaves_fresh_changes_to_their_own_push(people, settings):
    settings.CRM_OUTBOX_SWEEP_AFTER_SECONDS = 60
    fresh_id = outbox.record(account_id=AccountFactory().pk, change="added")
    old_id = outbox.record(account_id=AccountFactory().pk, change="added")
    OutboxEntry.objects.filter(pk=old_id).update(enqueued_at=timezone.now() - timedelta(seconds=61))

    _, swept = outbox.claim(limit=10, sweep=True)

    assert [e.pk for e in swept] == [old_id]
    assert [e.pk for e in outbox.claim(limit=10, ids=[fresh_id])[1]] == [fresh_id]


def test_retries_wait_longer_each_time_then_stop(people, settings):
    settings.CRM_OUTBOX_MAX_ATTEMPTS = 3
    settings.CRM_OUTBOX_RETRY_BASE_SECONDS = 60
    entry_id = outbox.record(account_id=AccountFactory().pk, change="added")
    waits = []
    for _ in range(3):
        OutboxEntry.objects.filter(pk=entry_id).update(next_attempt_at=timezone.now())
        token, _ = outbox.claim(limit=1)
        outbox.settle_retry(token, [entry_id], message="503: unavailable", run_id=None)
        entry = OutboxEntry.objects.get(pk=entry_id)
        waits.append((entry.next_attempt_at - timezone.now()).total_seconds())

    assert (entry.state, entry.attempts) == (OutboxState.FAILED, 3)
    assert 25 < waits[0] <= 60 and 55 < waits[1] <= 120


def test_ops_retry_a_dead_letter_and_nobody_else_can(people):
    entry_id = outbox.record(account_id=AccountFactory().pk, change="added")
    OutboxEntry.objects.filter(pk=entry_id).update(state=OutboxState.FAILED, attempts=8)
    from core.errors import NotAllowed

    with pytest.raises(NotAllowed):
        services.outbox_retry(entries=[entry_id], by=people.sales_approver)
    assert services.outbox_retry(entries=[entry_id], by=people.ops) == 1

    entry = OutboxEntry.objects.get(pk=entry_id)
    assert (entry.state, entry.attempts) == (OutboxState.PENDING, 0)
