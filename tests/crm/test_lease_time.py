"""A batch keeps to its lease: waits for the rate limit are bounded by the time left on it, a
long batch renews it while within its limits, and past them lets go in time."""

import pytest

from crm import services
from crm.models import OutboxEntry, OutboxState, SyncState
from tests.crm.fencing import fake_clock, hubspot_worker, one_request_per
from tests.crm.helpers import bulk_list, companies, queue_cycle
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list

pytestmark = pytest.mark.django_db

LEASE = 60


@pytest.fixture
def lease(settings):
    settings.CRM_OUTBOX_LEASE_SECONDS = LEASE


def test_it_never_waits_for_the_bucket_longer_than_the_lease_allows(
    hubspot, people, the_cycle, lease
):
    put_on_list(people, the_cycle, AccountFactory())

    with fake_clock() as clock:
        worker = hubspot_worker(hubspot, clock, limit=one_request_per(100), drained=True)
        run = services.outbox_push(trigger="command", adapter=worker)

    assert clock.slept == []  # not the bucket's 100 s, nor its 60 s steps
    assert hubspot.counters()["requests"] == 0
    assert run.state == SyncState.FAILED
    assert "the rate limit asks to wait 100.0 s" in run.message
    entry = OutboxEntry.objects.get()
    assert (entry.state, entry.attempts) == (OutboxState.PENDING, 1)  # back later


def test_a_wait_that_fits_in_the_lease_is_waited(hubspot, people, the_cycle, lease):
    put_on_list(people, the_cycle, AccountFactory())

    with fake_clock() as clock:
        worker = hubspot_worker(hubspot, clock, limit=one_request_per(20), drained=True)
        run = services.outbox_push(trigger="command", adapter=worker)

    assert run.state == SyncState.SUCCEEDED
    assert clock.slept and all(wait <= LEASE / 2 for wait in clock.slept)
    assert OutboxEntry.objects.get().state == OutboxState.DELIVERED


def test_a_long_batch_renews_its_lease(hubspot, people, the_cycle, lease):
    """Five upserts 25 s apart: 100 s for one batch, longer than its 60 s lease."""
    bulk_list(people, the_cycle, 500)
    queue_cycle(the_cycle)

    with fake_clock() as clock:
        worker = hubspot_worker(hubspot, clock, limit=one_request_per(25), match_domains=False)
        run = services.outbox_push(trigger="command", adapter=worker)

    assert sum(clock.slept) >= 100
    assert (run.state, run.sent, run.done) == (SyncState.SUCCEEDED, 500, 500)
    assert len(companies(hubspot)) == 500
    assert not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists()


def test_a_batch_past_its_limits_lets_go_of_its_lease(hubspot, people, the_cycle, lease, settings):
    settings.CRM_BATCH_MAX_SECONDS = 0  # no renewal
    bulk_list(people, the_cycle, 500)
    queue_cycle(the_cycle)

    with fake_clock() as clock:
        worker = hubspot_worker(hubspot, clock, limit=one_request_per(25), match_domains=False)
        run = services.outbox_push(trigger="command", adapter=worker)

    # Two upserts in the lease's first half; the third would have waited into its second.
    assert len(companies(hubspot)) == 200
    assert sum(clock.slept) <= LEASE / 2
    assert run.state == SyncState.FAILED
    assert "Out of time for this batch" in run.message
    assert set(OutboxEntry.objects.values_list("state", "attempts")) == {(OutboxState.PENDING, 1)}
