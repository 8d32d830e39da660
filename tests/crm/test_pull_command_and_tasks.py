"""`manage.py crm_pull` and the pull's Celery tasks (the schedule, ops' requests)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts_app.models import Contact
from crm import tasks
from crm.models import ProcessedWebhookEvent, SyncKind, SyncRun, SyncState, SyncTrigger
from crm.pull import services
from tests.crm.pull_helpers import link_hubspot, seed_hubspot
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def globex_in_hubspot(hubspot):
    AccountFactory(domain="globex.example")
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    [ada] = seed_hubspot(hubspot, "contacts", {"email": "ada@globex.example"})
    link_hubspot(hubspot, ("contacts", ada, "companies", company))


def run_command(*args) -> str:
    out = StringIO()
    call_command("crm_pull", *args, "--no-progress", stdout=out)
    return out.getvalue()


def test_the_command_pulls_and_reports_by_object_type(globex_in_hubspot):
    output = run_command()

    run = SyncRun.objects.get()
    assert (run.kind, run.trigger, run.state) == (SyncKind.PULL, SyncTrigger.COMMAND, "succeeded")
    assert f"Run #{run.pk} succeeded: read 2 records (1 created, 1 updated" in output
    assert "  contacts: 1 read, 1 created" in output
    assert Contact.objects.count() == 1


def test_the_command_reads_only_the_object_types_named(globex_in_hubspot):
    run_command("--object", "companies")

    assert not Contact.objects.exists()
    with pytest.raises(CommandError, match="Unknown object type"):
        run_command("--object", "tickets")


def test_the_command_needs_a_crm_to_pull_from(settings):
    settings.CRM_BACKEND = "webhook"

    with pytest.raises(CommandError, match="There is no CRM to pull from"):
        run_command()


def test_the_schedule_pulls_what_changed(globex_in_hubspot):
    run_id = tasks.pull_scheduled()

    run = SyncRun.objects.get(pk=run_id)
    assert (run.trigger, run.state, run.done) == (SyncTrigger.SCHEDULE, "succeeded", 2)
    assert Contact.objects.count() == 1


def test_the_schedule_hands_over_when_its_time_budget_is_spent(hubspot, settings, monkeypatch):
    hubspot.seed(companies=1, contacts=450, modified_start="2025-01-01T00:00:00Z")
    settings.CRM_PULL_TIME_BUDGET_SECONDS = 0

    tasks.pull_scheduled()  # eager: each task queues the next until nothing is left

    runs = list(SyncRun.objects.filter(trigger=SyncTrigger.SCHEDULE))
    assert len(runs) > 2
    assert Contact.objects.count() == 450
    assert sum(run.done for run in runs) == 451


def test_the_schedule_does_nothing_without_a_crm_to_pull_from(settings):
    settings.CRM_BACKEND = "none"

    assert tasks.pull_scheduled() is None
    assert not SyncRun.objects.exists()


def test_the_schedule_tidies_runs_and_old_webhook_events(settings):
    settings.CRM_BACKEND = "none"
    long_ago = timezone.now() - timedelta(hours=2)
    dead = SyncRun.objects.create(
        kind="pull", backend="hubspot", trigger="schedule", state="running", updated_at=long_ago
    )
    waiting = SyncRun.objects.create(
        kind="pull", backend="hubspot", trigger="api", state="queued", created_at=long_ago
    )
    ProcessedWebhookEvent.objects.create(
        event_key="1:2:3",
        batch="00000000-0000-0000-0000-000000000001",
        received_at=timezone.now() - timedelta(days=8),
    )
    ProcessedWebhookEvent.objects.create(
        event_key="1:2:4", batch="00000000-0000-0000-0000-000000000001"
    )

    tasks.pull_scheduled()

    dead.refresh_from_db()
    waiting.refresh_from_db()
    assert dead.state == SyncState.FAILED
    assert "worker stopped" in dead.message
    # The pull asked for while the broker was down is started now, from the CRM it was asked
    # of (and says why it cannot run: this test gave HubSpot no token).
    assert waiting.state == SyncState.FAILED
    assert "Set HUBSPOT_ACCESS_TOKEN" in waiting.message
    assert list(ProcessedWebhookEvent.objects.values_list("event_key", flat=True)) == ["1:2:4"]


def test_a_pull_ops_asked_for_is_carried_out_by_a_worker(
    globex_in_hubspot, people, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = services.sync_run_request_pull(by=people.ops)

    run.refresh_from_db()
    assert (run.state, run.triggered_by, run.done) == (SyncState.SUCCEEDED, people.ops, 2)
    assert Contact.objects.count() == 1


def test_a_pull_of_an_object_type_the_crm_has_not_is_refused(hubspot):
    from crm.adapters import ConfigurationError

    with pytest.raises(ConfigurationError, match="hubspot has no object type tickets"):
        services.pull(trigger="command", object_types=["contacts", "tickets"])

    run = SyncRun.objects.get()
    assert (run.state, run.message) == (SyncState.FAILED, "hubspot has no object type tickets.")
