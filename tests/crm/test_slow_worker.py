"""A worker too slow for its lease: another worker takes its entries over and delivers the newer
payload; the slow one, back, sends nothing, settles nothing and records no digest."""

import pytest

from crm import outbox, services
from crm.models import OutboxEntry, OutboxState
from tests.crm.fencing import (
    expected_digest,
    fake_clock,
    hubspot_worker,
    one_request_per,
    stored_digest,
)
from tests.crm.helpers import companies_by_key, write_requests
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db

LEASE = 60


@pytest.fixture
def listed(hubspot, people, the_cycle, settings):
    settings.CRM_OUTBOX_LEASE_SECONDS = LEASE
    account = AccountFactory(domain="globex.example")
    put_on_list(people, the_cycle, account, tier=3)
    return account


def test_it_lets_the_newer_payload_win_when_a_slow_workers_lease_runs_out(
    hubspot, people, the_cycle, listed
):
    with fake_clock() as clock:
        slow = hubspot_worker(hubspot, clock, limit=one_request_per(1), drained=True)

        def stalled(seconds):
            # The slow worker's one-second wait lasts past its lease (a stalled process);
            # meanwhile the account moves to tier 1 and the sweeper's worker pushes it.
            clock.on_sleep = None
            clock.advance(LEASE + 1)
            change = nominate(people.marketer, the_cycle, listed, kind="change_tier", tier=1)
            decide(change, people.sales_approver)
            services.outbox_push(trigger="sweeper", sweep=True)

        clock.on_sleep = stalled
        late = services.outbox_push(trigger="command", adapter=slow)

    company = companies_by_key(hubspot)[str(listed.key)]
    assert company["hs_ideal_customer_profile"] == "tier_1"
    assert stored_digest(listed) == expected_digest(listed)
    assert write_requests(hubspot) == 1  # the second worker's upsert; none from the slow one
    entry = OutboxEntry.objects.get(account=listed)
    assert entry.state == OutboxState.DELIVERED
    assert entry.last_run.trigger == "sweeper"
    late.refresh_from_db()
    assert (late.sent, late.done, late.detail["lease_lost"]) == (0, 0, 1)


def test_it_records_no_digest_when_the_lease_ran_out_during_the_request(hubspot, listed):
    """The request went out in time, the answer came after the lease: the entry is not
    settled by this worker, and no digest claims the CRM is up to date."""
    with fake_clock() as clock:
        worker = hubspot_worker(hubspot, clock, limit=one_request_per(1))

        def answered_late(response):
            # The CRM's answer to the upsert arrives after the lease has run out.
            if response.request.url.path.endswith("/batch/upsert"):
                clock.advance(LEASE + 1)

        worker.transport.client.event_hooks["response"] = [answered_late]
        run = services.outbox_push(trigger="command", adapter=worker)

    entry = OutboxEntry.objects.get(account=listed)
    assert entry.state == OutboxState.IN_FLIGHT  # for the next worker to take over
    assert stored_digest(listed) is None
    assert (run.sent, run.done, run.detail["lease_lost"]) == (1, 0, 1)
    assert entry.last_run is None


def test_a_late_settle_is_refused_whether_or_not_another_worker_took_over(people):
    first, second = AccountFactory(), AccountFactory()
    for account in (first, second):
        outbox.record(account_id=account.pk, change="added")

    with fake_clock() as clock:
        token, claimed = outbox.claim(limit=10)
        ids = [c.pk for c in claimed]
        clock.advance(301)  # past the lease (CRM_OUTBOX_LEASE_SECONDS: 300); nobody took over

        assert outbox.settle_delivered(token, ids, backend="hubspot", run_id=None) == 0
        assert outbox.settle_retry(token, ids, message="503", run_id=None) == {
            "retry": 0,
            "dead": 0,
        }
        outbox.settle_failed(token, {ids[0]: "refused"}, backend="hubspot", run_id=None)
        assert outbox.settle_deferred(token, ids, until=clock.now(), message="", run_id=None) == 0
        assert outbox.release(token, ids) == 0
        assert set(OutboxEntry.objects.values_list("state", flat=True)) == {"in_flight"}

        new_token, retaken = outbox.claim(limit=10)  # taken over
        assert [c.pk for c in retaken] == ids
        assert outbox.settle_delivered(token, ids, backend="hubspot", run_id=None) == 0
        assert outbox.settle_delivered(new_token, ids, backend="hubspot", run_id=None) == 2

    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {"delivered"}
