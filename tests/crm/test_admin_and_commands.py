"""What ops see and do: sync runs with progress and errors in the admin, retrying dead letters,
pushing now, CRM owner ids; `crm_push` with its progress bar and `crm_setup`."""

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from crm.models import CrmOwner, OutboxEntry, OutboxState, SyncRun, SyncState
from tests.crm.helpers import KEY_PROPERTY, bulk_list, companies, companies_by_key
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list
from workflow.services import person_set_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def ops_client(client, db):
    user, _ = person_set_role(username="opal", role="ops")
    client.force_login(user)
    client.user = user
    return client


def push_cycle_command(cycle, *args) -> str:
    out = io.StringIO()
    call_command("crm_push", "--cycle", str(cycle.pk), *args, stdout=out)
    return out.getvalue()


def test_crm_push_shows_its_progress_and_a_summary(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 250)

    output = push_cycle_command(the_cycle)

    assert "Pushing the list of FY27 H1" in output
    # tqdm's last redraw: the full bar, the count and the run's counts after it.
    assert re.search(r"100%\|#+\| 250/250 \[.*sent 250, created 250, .* failed 0\]", output)
    assert "succeeded: 250 records, sent 250 (250 created, 0 updated), 0 unchanged" in output
    assert len(companies(hubspot)) == 250


def test_crm_push_again_says_nothing_changed_and_sends_nothing(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 30)
    push_cycle_command(the_cycle)
    writes = hubspot.counters()["write_requests"]

    output = push_cycle_command(the_cycle)

    assert "30 unchanged" in output
    assert hubspot.counters()["write_requests"] == writes


def test_crm_push_force_sends_everything_again(hubspot, people, the_cycle):
    bulk_list(people, the_cycle, 30)
    push_cycle_command(the_cycle)

    output = push_cycle_command(the_cycle, "--force")

    assert "sent 30 (0 created, 30 updated)" in output
    assert len(companies(hubspot)) == 30


def test_crm_push_without_anything_due_says_so(hubspot):
    out = io.StringIO()
    call_command("crm_push", stdout=out)

    assert "Nothing to push" in out.getvalue()


def test_crm_push_refuses_an_unknown_cycle(hubspot):
    with pytest.raises(CommandError, match="no cycle with id 999"):
        call_command("crm_push", "--cycle", "999", stdout=io.StringIO())


def test_crm_push_fails_loudly_when_the_crm_refuses_the_token(hubspot, people, the_cycle, settings):
    settings.HUBSPOT_ACCESS_TOKEN = "wrong"
    put_on_list(people, the_cycle, AccountFactory())

    with pytest.raises(CommandError, match="Authentication credentials not found"):
        push_cycle_command(the_cycle)


def test_crm_setup_creates_the_key_property_once(hubspot, settings):
    settings.HUBSPOT_ACCOUNT_KEY_PROPERTY = "accord_key_two"
    first, second = io.StringIO(), io.StringIO()

    call_command("crm_setup", stdout=first)
    call_command("crm_setup", stdout=second)

    assert "Created the company property accord_key_two" in first.getvalue()
    assert "is there, with unique values" in second.getvalue()
    prop = hubspot.app.properties["companies"]["accord_key_two"]
    assert prop["hasUniqueValue"] is True
    assert KEY_PROPERTY in hubspot.app.properties["companies"]


def test_crm_setup_refuses_a_key_property_without_unique_values(hubspot, settings):
    hubspot.app.properties["companies"]["name"]["hasUniqueValue"] = False
    settings.HUBSPOT_ACCOUNT_KEY_PROPERTY = "name"

    with pytest.raises(CommandError, match="does not require unique values"):
        call_command("crm_setup", stdout=io.StringIO())


def test_the_admin_shows_a_runs_progress_counts_and_errors(hubspot, people, the_cycle, ops_client):
    accounts = bulk_list(people, the_cycle, 5)
    hubspot.set_faults(record_errors={"keys": [str(accounts[2].key)], "message": "Rule 7"})
    push_cycle_command(the_cycle)
    run = SyncRun.objects.get()

    listing = ops_client.get(reverse("admin:crm_syncrun_changelist"))
    page = ops_client.get(reverse("admin:crm_syncrun_change", args=[run.pk]))

    assert listing.status_code == 200
    assert b'<progress max="100" value="100"' in listing.content
    assert b"1 failed (dead letter)" in listing.content
    assert page.status_code == 200
    assert b"Rule 7" in page.content
    assert str(accounts[2].key).encode() in page.content


def test_ops_retry_a_runs_failed_records_from_the_admin(
    hubspot, people, the_cycle, ops_client, django_capture_on_commit_callbacks
):
    accounts = bulk_list(people, the_cycle, 3)
    hubspot.set_faults(record_errors={"keys": [str(accounts[0].key)]})
    push_cycle_command(the_cycle)
    hubspot.clear_faults()
    run = SyncRun.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        ops_client.post(
            reverse("admin:crm_syncrun_changelist"),
            {"action": "retry_failed", "_selected_action": [run.pk]},
        )

    # Tasks run in-process in tests: the retry was pushed at once.
    assert OutboxEntry.objects.get(account=accounts[0]).state == OutboxState.DELIVERED
    assert str(accounts[0].key) in companies_by_key(hubspot)


def test_ops_retry_dead_letters_from_the_outbox(
    hubspot, people, the_cycle, ops_client, django_capture_on_commit_callbacks
):
    account = AccountFactory()
    put_on_list(people, the_cycle, account)
    OutboxEntry.objects.update(state=OutboxState.FAILED, attempts=8, last_error="gave up")
    entry = OutboxEntry.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        answer = ops_client.post(
            reverse("admin:crm_outboxentry_changelist"),
            {"action": "retry", "_selected_action": [entry.pk]},
            follow=True,
        )

    assert b"1 entry queued again." in answer.content
    assert OutboxEntry.objects.get().state == OutboxState.DELIVERED
    assert str(account.key) in companies_by_key(hubspot)


def test_ops_push_entries_waiting_out_a_back_off_now(
    hubspot, people, the_cycle, ops_client, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from core.errors import NotAllowed
    from crm import services

    waiting, delivered = AccountFactory(), AccountFactory()
    for account in (waiting, delivered):
        put_on_list(people, the_cycle, account)
    later = timezone.now() + timedelta(hours=1)
    OutboxEntry.objects.filter(account=waiting).update(
        state=OutboxState.PENDING, attempts=5, next_attempt_at=later, last_error="503"
    )
    entries = list(OutboxEntry.objects.order_by("pk"))

    with django_capture_on_commit_callbacks(execute=True):
        answer = ops_client.post(
            reverse("admin:crm_outboxentry_changelist"),
            {"action": "push_now", "_selected_action": [e.pk for e in entries]},
            follow=True,
        )

    assert b"1 entry pushed now." in answer.content
    entry = OutboxEntry.objects.get(account=waiting)
    assert entry.state == OutboxState.DELIVERED
    assert entry.attempts == 5  # kept: had the CRM still been down, on towards the dead letter
    assert str(waiting.key) in companies_by_key(hubspot)
    with pytest.raises(NotAllowed):
        services.outbox_push_now(entries=entries, by=people.sales_approver)


def test_push_now_says_so_when_nothing_selected_is_waiting(hubspot, people, the_cycle, ops_client):
    put_on_list(people, the_cycle, AccountFactory())  # delivered at once (tasks run in process)

    answer = ops_client.post(
        reverse("admin:crm_outboxentry_changelist"),
        {"action": "push_now", "_selected_action": [OutboxEntry.objects.get().pk]},
        follow=True,
    )

    assert b"None of the selected entries is waiting for a retry." in answer.content


def test_people_without_ops_cannot_retry(hubspot, people, client):
    client.force_login(people.sales_approver)

    answer = client.get(reverse("admin:crm_outboxentry_changelist"))

    assert answer.status_code == 302  # not staff: off to the admin's sign-in


def test_push_now_queues_a_run_that_pushes_what_is_due(
    hubspot, people, the_cycle, ops_client, django_capture_on_commit_callbacks
):
    put_on_list(people, the_cycle, AccountFactory())

    with django_capture_on_commit_callbacks(execute=True):
        ops_client.post(reverse("admin:crm_syncrun_push_now"))

    run = SyncRun.objects.get()
    assert (run.trigger, run.triggered_by, run.state) == ("admin", ops_client.user, "succeeded")
    assert run.created == 1


def test_ops_set_a_persons_hubspot_owner_id_and_their_accounts_follow(
    hubspot, people, the_cycle, ops_client, django_capture_on_commit_callbacks
):
    account = AccountFactory(sales_owner=people.sales_approver)
    put_on_list(people, the_cycle, account)
    call_command("crm_push", stdout=io.StringIO())

    with django_capture_on_commit_callbacks(execute=True):
        answer = ops_client.post(
            reverse("admin:crm_crmowner_add"),
            {"user": people.sales_approver.pk, "hubspot_owner_id": "104", "salesforce_user_id": ""},
        )

    assert answer.status_code == 302, answer.content[:2000]
    assert CrmOwner.objects.get(user=people.sales_approver).hubspot_owner_id == "104"
    assert companies_by_key(hubspot)[str(account.key)]["hubspot_owner_id"] == "104"


def test_a_sync_run_is_read_only_in_the_admin(hubspot, people, the_cycle, ops_client):
    put_on_list(people, the_cycle, AccountFactory())
    call_command("crm_push", stdout=io.StringIO())
    run = SyncRun.objects.get()

    ops_client.post(reverse("admin:crm_syncrun_change", args=[run.pk]), {"state": "failed"})

    run.refresh_from_db()
    assert run.state == SyncState.SUCCEEDED
