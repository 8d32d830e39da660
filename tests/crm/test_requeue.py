"""An entry sent back to pending is pushed again at once, not a minute later by the sweeper:
changed while in flight, a retry that is due, given back by its worker, revived by ops.

Real commits (transactional tests) and Celery in-process: each after-commit push runs as it
would on a worker. The sweeper is never called."""

import pytest

from crm import outbox, services
from crm.models import OutboxEntry, OutboxState
from tests.crm.fencing import expected_digest, stored_digest
from tests.crm.helpers import companies_by_key
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db(transaction=True)

WRITES = "/batch/(upsert|update)$"


def still_open(account) -> list[str]:
    return list(
        OutboxEntry.objects.filter(account=account)
        .exclude(state=OutboxState.DELIVERED)
        .values_list("state", flat=True)
    )


def tier_in_crm(sandbox, account) -> str:
    return companies_by_key(sandbox)[str(account.key)]["hs_ideal_customer_profile"]


def test_an_entry_changed_while_in_flight_is_pushed_again_at_once(hubspot, people, the_cycle):
    account = AccountFactory()
    put_on_list(people, the_cycle, account, tier=3)  # pushed after its commit
    outbox.record_cycle(cycle_id=the_cycle.pk)  # queued for a push of the cycle
    token, claimed = outbox.claim(limit=10)  # a worker takes it (and sends tier 3)

    # Meanwhile the account moves to tier 1; its own push finds the entry in flight.
    change = nominate(people.marketer, the_cycle, account, kind="change_tier", tier=1)
    decide(change, people.sales_approver)
    outbox.settle_delivered(token, [c.pk for c in claimed], backend="hubspot", run_id=None)

    assert tier_in_crm(hubspot, account) == "tier_1"
    assert still_open(account) == []
    assert stored_digest(account) == expected_digest(account)


def test_a_retry_is_pushed_when_it_is_due(hubspot, people, the_cycle, settings):
    settings.CRM_HTTP_MAX_TRIES = 1
    settings.CRM_OUTBOX_RETRY_BASE_SECONDS = 0  # due again at once
    hubspot.set_faults(sequence=["503"], path=WRITES)
    account = AccountFactory()

    put_on_list(people, the_cycle, account, tier=2)

    entry = OutboxEntry.objects.get(account=account)
    assert (entry.state, entry.attempts) == (OutboxState.DELIVERED, 1)
    assert tier_in_crm(hubspot, account) == "tier_2"


def test_entries_a_worker_gives_back_are_pushed_at_once(hubspot, people, the_cycle):
    account = AccountFactory()
    put_on_list(people, the_cycle, account, tier=2)
    outbox.record_cycle(cycle_id=the_cycle.pk)  # queued for a push of the cycle
    token, claimed = outbox.claim(limit=10)

    assert outbox.release(token, [c.pk for c in claimed]) == 1

    assert still_open(account) == []


def test_a_dead_letter_ops_retry_is_pushed_at_once(hubspot, people, the_cycle):
    account = AccountFactory()
    hubspot.set_faults(record_errors={"keys": [str(account.key)], "message": "Bad owner"})
    put_on_list(people, the_cycle, account)
    dead = OutboxEntry.objects.get(account=account)
    assert (dead.state, dead.last_error) == (OutboxState.FAILED, "Bad owner")
    hubspot.clear_faults()

    services.outbox_retry(entries=[dead], by=people.ops)

    assert OutboxEntry.objects.get(pk=dead.pk).state == OutboxState.DELIVERED
    assert str(account.key) in companies_by_key(hubspot)
