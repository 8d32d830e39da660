"""An entry whose push kills its worker every time: each takeover of its expired lease counts
an attempt, and after CRM_OUTBOX_MAX_ATTEMPTS it is a dead letter instead of a fourth victim."""

import pytest

from crm import outbox, tasks
from crm.models import OutboxEntry, OutboxState, SyncRun
from tests.crm.fencing import fake_clock
from tests.crm.helpers import companies_by_key
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list

pytestmark = pytest.mark.django_db

LEASE = 60


def test_it_reaches_the_dead_letter_after_the_last_attempt(hubspot, people, the_cycle, settings):
    settings.CRM_OUTBOX_MAX_ATTEMPTS = 3
    settings.CRM_OUTBOX_LEASE_SECONDS = LEASE
    poison = AccountFactory()
    put_on_list(people, the_cycle, poison)
    attempts = []

    with fake_clock() as clock:
        for _ in range(3):
            # A worker takes it, and dies in the middle of its push: it never settles.
            _, claimed = outbox.claim(limit=10)
            assert [c.account_id for c in claimed] == [poison.pk]
            attempts.append(OutboxEntry.objects.get().attempts)
            clock.advance(LEASE + 1)

        swept = tasks.sweep_outbox()  # finds the third lease run out

    assert attempts == [0, 1, 2]  # each takeover counted the attempt before it
    entry = OutboxEntry.objects.get()
    assert (entry.state, entry.attempts) == (OutboxState.FAILED, 3)
    assert entry.last_error.startswith("Gave up after 3 attempts")
    assert "the worker pushing it stopped before settling it" in entry.last_error
    assert (entry.claim_token, entry.claimed_until) == (None, None)
    assert swept is None and not SyncRun.objects.exists()  # no worker took it a fourth time
    assert companies_by_key(hubspot) == {}


def test_a_taken_over_entry_says_why_it_came_back(people, settings):
    settings.CRM_OUTBOX_LEASE_SECONDS = LEASE
    outbox.record(account_id=AccountFactory().pk, change="added")

    with fake_clock() as clock:
        outbox.claim(limit=10)
        clock.advance(LEASE + 1)
        _, retaken = outbox.claim(limit=10)

    entry = OutboxEntry.objects.get()
    assert [c.pk for c in retaken] == [entry.pk]
    assert (entry.state, entry.attempts) == (OutboxState.IN_FLIGHT, 1)
    assert "its lease ran out" in entry.last_error
