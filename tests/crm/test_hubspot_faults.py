"""When HubSpot throttles, fails, hangs or loses answers: retries where they are safe, deferral
on the daily limit, the dead letter after too many attempts, never a duplicate company."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from crm import services
from crm.models import OutboxEntry, OutboxState, SyncState
from tests.crm.helpers import bulk_list, companies, companies_by_key, queue_cycle

pytestmark = pytest.mark.django_db

WRITES = "/batch/(upsert|update)$"


def push():
    return services.outbox_push(trigger="command")


def test_it_retries_a_429_without_retry_after_with_backoff(hubspot, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 150)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["429", "429"], path=WRITES)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert run.detail["rate_limited"] == 2
    assert run.detail["retries"] == 2
    assert hubspot.counters()["rate_limited_by_policy"]["FAULT"] == 2
    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}


def test_it_waits_as_long_as_retry_after_says(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 5)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["429"], retry_after=1, path=WRITES)

    started = time.monotonic()
    run = push()

    assert time.monotonic() - started >= 1.0
    assert run.detail["waited_seconds"] >= 1.0
    assert run.state == SyncState.SUCCEEDED
    assert len(companies(hubspot)) == 5


def test_a_retry_after_beyond_reason_defers_the_work(hubspot, people, the_cycle, settings):
    settings.CRM_RETRY_AFTER_MAX_SECONDS = 5
    bulk_list(people, the_cycle, 5)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["429"], retry_after=600, path=WRITES)

    run = push()

    assert run.state == SyncState.PARTIAL
    entry = OutboxEntry.objects.first()
    assert entry.state == OutboxState.PENDING
    assert entry.next_attempt_at > timezone.now() + timedelta(seconds=500)
    assert companies(hubspot) == []


def test_the_daily_limit_defers_the_work_instead_of_spinning(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 250)
    queue_cycle(the_cycle)
    # One request left today: the domain search takes it, the first write meets DAILY.
    hubspot.hook("POST", "limits", {"daily_limit": 1})

    run = push()

    assert run.state == SyncState.PARTIAL
    assert "daily limit" in run.message
    counters = hubspot.counters()
    assert counters["rate_limited_by_policy"] == {"DAILY": 1}
    assert counters["requests"] == 2  # no spinning
    later = timezone.now() + timedelta(minutes=50)
    deferred = OutboxEntry.objects.filter(state=OutboxState.PENDING, next_attempt_at__gt=later)
    assert deferred.count() == 250  # everything claimed with the batch that met it waits an hour
    assert {e.attempts for e in deferred} == {0}  # not the records' fault
    assert run.sent == 0 and run.failed == 0


def test_it_retries_5xx_answers(hubspot, people, the_cycle):
    accounts = bulk_list(people, the_cycle, 40)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["503", "503"], path=WRITES)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert run.detail["server_errors"] == 2
    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}


def test_it_retries_after_a_timeout(hubspot, people, the_cycle, settings):
    settings.CRM_HTTP_TIMEOUT_SECONDS = 0.3
    accounts = bulk_list(people, the_cycle, 10)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["slow"], slow_seconds=1.0, path=WRITES)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert run.detail["network_errors"] == 1
    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}


def test_a_lost_answer_does_not_create_a_duplicate(hubspot, people, the_cycle):
    """The CRM wrote the batch but the answer never came: the upsert by key is repeated and
    finds the companies it created."""
    accounts = bulk_list(people, the_cycle, 50)
    queue_cycle(the_cycle)
    hubspot.set_faults(sequence=["lost_response"], path=WRITES)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    assert len(companies(hubspot)) == 50
    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}
    assert hubspot.counters()["records_updated"] == 50  # the second time round


def test_a_crm_that_keeps_failing_is_tried_again_later(hubspot, people, the_cycle, settings):
    settings.CRM_HTTP_MAX_TRIES = 3
    bulk_list(people, the_cycle, 10)
    queue_cycle(the_cycle)
    hubspot.set_faults(rate_503=1.0, path=WRITES)

    run = push()

    assert run.state == SyncState.FAILED
    assert "503" in run.message
    entries = list(OutboxEntry.objects.all())
    assert {(e.state, e.attempts) for e in entries} == {(OutboxState.PENDING, 1)}
    assert all(e.next_attempt_at > timezone.now() for e in entries)
    assert "503" in entries[0].last_error


def test_after_the_last_attempt_the_entry_is_a_dead_letter(hubspot, people, the_cycle, settings):
    settings.CRM_HTTP_MAX_TRIES = 1
    settings.CRM_OUTBOX_MAX_ATTEMPTS = 2
    bulk_list(people, the_cycle, 3)
    queue_cycle(the_cycle)
    hubspot.set_faults(rate_503=1.0, path=WRITES)

    push()
    OutboxEntry.objects.update(next_attempt_at=timezone.now())
    run = push()

    entries = list(OutboxEntry.objects.all())
    assert {(e.state, e.attempts) for e in entries} == {(OutboxState.FAILED, 2)}
    assert entries[0].last_error.startswith("Gave up after 2 attempts")
    assert run.failed == 3


def test_a_refused_token_fails_the_run_with_the_crms_words(hubspot, people, the_cycle, settings):
    settings.HUBSPOT_ACCESS_TOKEN = "wrong"
    bulk_list(people, the_cycle, 2)
    queue_cycle(the_cycle)

    run = push()

    assert run.state == SyncState.FAILED
    assert "Authentication credentials not found" in run.message
    assert set(OutboxEntry.objects.values_list("state", flat=True)) == {OutboxState.PENDING}


def test_thirty_percent_of_429_and_503_lose_and_duplicate_nothing(
    hubspot, people, the_cycle, settings
):
    settings.CRM_HTTP_MAX_TRIES = 8
    accounts = bulk_list(people, the_cycle, 1000)
    queue_cycle(the_cycle)
    hubspot.set_faults(seed=11, rate_429=0.15, rate_503=0.15)

    run = push()

    assert run.state == SyncState.SUCCEEDED
    faults = hubspot.counters()["faults"]
    assert faults.get("429", 0) + faults.get("503", 0) >= 2
    assert run.detail["rate_limited"] + run.detail["server_errors"] == sum(faults.values())
    assert len(companies(hubspot)) == 1000
    assert set(companies_by_key(hubspot)) == {str(a.key) for a in accounts}


def test_retries_stop_at_the_batchs_deadline(hubspot, people, the_cycle, settings):
    """A CRM asking to wait again and again: the batch gives up in time and comes back later,
    instead of outliving its lease."""
    settings.CRM_BATCH_MAX_SECONDS = 2
    settings.CRM_HTTP_MAX_TRIES = 10
    bulk_list(people, the_cycle, 3)
    queue_cycle(the_cycle)
    hubspot.set_faults(rate_429=1.0, retry_after=1, path=WRITES)

    started = time.monotonic()
    run = push()

    # Without the deadline the ten tries would take 10 s; the margin is for a busy machine.
    assert time.monotonic() - started < 7
    assert run.state == SyncState.FAILED
    assert "Out of time for this batch" in run.message
    assert {(e.state, e.attempts) for e in OutboxEntry.objects.all()} == {(OutboxState.PENDING, 1)}
