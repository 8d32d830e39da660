"""The beat sweeper: what it takes, what it leaves to the after-commit push, what it repairs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services, tasks
from crm.models import OutboxEntry, OutboxState, SyncRun, SyncState
from tests.crm.helpers import companies_by_key
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list

pytestmark = pytest.mark.django_db


def a_minute_ago():
    return timezone.now() - timedelta(seconds=61)


def test_it_pushes_changes_still_pending_after_a_minute_and_leaves_fresh_ones(
    hubspot, people, the_cycle
):
    old, fresh = AccountFactory(), AccountFactory()
    put_on_list(people, the_cycle, old)
    put_on_list(people, the_cycle, fresh)
    OutboxEntry.objects.filter(account=old).update(enqueued_at=a_minute_ago())

    run = SyncRun.objects.get(pk=tasks.sweep_outbox())

    assert (run.trigger, run.created) == ("sweeper", 1)
    assert set(companies_by_key(hubspot)) == {str(old.key)}
    assert OutboxEntry.objects.get(account=fresh).state == OutboxState.PENDING


def test_it_does_nothing_and_records_no_run_when_nothing_is_due(hubspot, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())  # fresh: its own push will take it

    assert tasks.sweep_outbox() is None
    assert not SyncRun.objects.exists()


def test_it_marks_a_dead_workers_run_failed(hubspot, settings):
    settings.CRM_OUTBOX_LEASE_SECONDS = 300
    stale = services.sync_run_create(trigger="sweeper", state=SyncState.RUNNING)
    SyncRun.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(seconds=301))
    alive = services.sync_run_create(trigger="sweeper", state=SyncState.RUNNING)

    tasks.sweep_outbox()

    assert SyncRun.objects.get(pk=stale.pk).state == SyncState.FAILED
    assert "worker stopped" in SyncRun.objects.get(pk=stale.pk).message
    assert SyncRun.objects.get(pk=alive.pk).state == SyncState.RUNNING


def test_it_starts_a_push_ops_asked_for_whose_task_never_came(hubspot, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())
    run = services.sync_run_request_push(by=people.ops)  # its task is queued after commit: never
    SyncRun.objects.filter(pk=run.pk).update(created_at=a_minute_ago())

    tasks.sweep_outbox()

    run.refresh_from_db()
    assert (run.state, run.created, run.triggered_by) == ("succeeded", 1, people.ops)
