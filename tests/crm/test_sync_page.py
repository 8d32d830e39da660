"""The sync page: who sees it and its buttons, "Push now" / "Pull now", retrying dead letters,
the run page, and the progress JSON its script polls."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from crm.models import OutboxEntry, OutboxState, SyncKind, SyncRun, SyncRunError, SyncState
from tests.crm.helpers import companies_by_key
from tests.factories import AccountFactory, person

pytestmark = pytest.mark.django_db

SYNC = "/sync/"
MEMBERS = ["marketer", "sales_member", "ops"]


@pytest.fixture
def nobody(db):
    return person("nora", side=None)


@pytest.fixture
def as_(people, nobody):
    def client(role: str) -> Client:
        c = Client()
        others = {"nobody": nobody, "anonymous": None}
        user = others[role] if role in others else getattr(people, role)
        if user is not None:
            c.force_login(user)
        return c

    return client


def a_run(**fields) -> SyncRun:
    now = timezone.now()
    values = {
        "kind": SyncKind.PUSH,
        "backend": "hubspot",
        "trigger": "command",
        "created_at": now,
        "updated_at": now,
        **fields,
    }
    return SyncRun.objects.create(**values)


def a_dead_letter(message="Property values were not valid: hubspot_owner_id 999") -> OutboxEntry:
    account = AccountFactory(name="Globex", domain="globex.example")
    return OutboxEntry.objects.create(
        account=account, change="added", state=OutboxState.FAILED, attempts=8, last_error=message
    )


@pytest.mark.parametrize("role", [*MEMBERS, "nobody", "anonymous"])
def test_it_shows_the_page_to_members_only(role, as_):
    response = as_(role).get(SYNC)

    if role in MEMBERS:
        assert response.status_code == 200
    elif role == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next=")
    else:
        assert response.status_code == 403


@pytest.mark.parametrize("role", MEMBERS)
def test_only_ops_get_the_buttons(role, as_, settings):
    settings.CRM_BACKEND = "hubspot"
    entry = a_dead_letter()

    page = as_(role).get(SYNC).content.decode()

    assert ("Push now" in page) == (role == "ops")
    assert ("Pull now" in page) == (role == "ops")
    assert (reverse("crm:outbox_retry", args=[entry.pk]) in page) == (role == "ops")
    assert "hubspot_owner_id 999" in page  # the dead letter and its error: everyone sees them


def test_pull_now_is_offered_only_when_there_is_a_crm_to_pull_from(as_, settings):
    settings.CRM_BACKEND = "webhook"

    page = as_("ops").get(SYNC).content.decode()

    assert "Push now" in page
    assert "Pull now" not in page


def test_it_lists_runs_with_their_progress_and_counts(as_):
    running = a_run(state=SyncState.RUNNING, total=200, done=50, sent=50, created=40, updated=10)
    done = a_run(
        kind=SyncKind.PULL,
        state=SyncState.PARTIAL,
        total=10,
        done=10,
        failed=2,
        message="2 records failed",
    )

    page = as_("sales_member").get(SYNC).content.decode()

    assert f'data-run="{running.pk}" data-active="1"' in page
    assert f'data-run="{done.pk}" data-active="0"' in page
    assert "progress-bar pct-25 " in page  # 50 of 200, without any script (accord.css)
    assert '<span data-field="done">50</span> / <span data-field="total">200</span>' in page
    assert "Finished with errors" in page
    assert "2 records failed" in page
    pulls = as_("sales_member").get(SYNC + "?kind=pull").content.decode()
    assert f'data-run="{done.pk}"' in pulls
    assert f'data-run="{running.pk}"' not in pulls


def test_push_now_queues_a_push_for_ops(as_, people):
    ops = as_("ops")

    response = ops.post(reverse("crm:push"), follow=True)

    run = SyncRun.objects.get()
    assert (run.kind, run.state, run.triggered_by) == (SyncKind.PUSH, SyncState.QUEUED, people.ops)
    assert response.redirect_chain == [(SYNC, 302)]
    assert f"Push #{run.pk} is queued" in response.content.decode()


@pytest.mark.parametrize("button", ["crm:push", "crm:pull"])
def test_people_on_a_side_cannot_start_a_sync(button, as_, settings):
    settings.CRM_BACKEND = "hubspot"

    response = as_("sales_member").post(reverse(button))

    assert response.status_code == 403
    assert "Only revenue operations" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_pull_now_without_a_crm_to_pull_from_says_so(as_, settings):
    settings.CRM_BACKEND = "none"

    response = as_("ops").post(reverse("crm:pull"))

    assert response.status_code == 409
    assert "There is no CRM to pull from" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_a_second_pull_is_refused_while_one_is_queued(as_, settings):
    settings.CRM_BACKEND = "hubspot"
    first = as_("ops").post(reverse("crm:pull"))

    second = as_("ops").post(reverse("crm:pull"), {"full": "1"})

    assert first.status_code == 302
    assert second.status_code == 409
    assert "already queued or running" in second.content.decode()
    assert SyncRun.objects.filter(kind=SyncKind.PULL).count() == 1


def test_pull_everything_asks_for_a_full_pull(as_, settings):
    settings.CRM_BACKEND = "salesforce"

    as_("ops").post(reverse("crm:pull"), {"full": "1"})

    run = SyncRun.objects.get()
    assert (run.kind, run.backend, run.detail) == (SyncKind.PULL, "salesforce", {"full": True})


def test_ops_retry_a_dead_letter_and_it_is_pushed_at_once(
    as_, hubspot, django_capture_on_commit_callbacks
):
    entry = a_dead_letter()

    with django_capture_on_commit_callbacks(execute=True):
        response = as_("ops").post(reverse("crm:outbox_retry", args=[entry.pk]))

    # Sent back to pending, then pushed after commit (tasks run in-process): HubSpot has it.
    entry.refresh_from_db()
    assert response.status_code == 302
    assert entry.state == OutboxState.DELIVERED
    assert str(entry.account.key) in companies_by_key(hubspot)


def test_people_on_a_side_cannot_retry_a_dead_letter(as_):
    entry = a_dead_letter()

    response = as_("marketer").post(reverse("crm:outbox_retry", args=[entry.pk]))

    entry.refresh_from_db()
    assert response.status_code == 403
    assert entry.state == OutboxState.FAILED


def test_the_run_page_lists_the_records_that_failed(as_):
    entry = a_dead_letter()
    run = a_run(state=SyncState.PARTIAL, total=3, done=3, sent=3, created=2, failed=1)
    OutboxEntry.objects.filter(pk=entry.pk).update(last_run=run)
    SyncRunError.objects.create(
        run=run,
        object_type="company",
        object_key=str(entry.account.key),
        account=entry.account,
        outbox_entry=entry,
        message="Property values were not valid: hubspot_owner_id 999",
    )

    ops_page = as_("ops").get(reverse("crm:run", args=[run.pk])).content.decode()
    side_page = as_("sales_member").get(reverse("crm:run", args=[run.pk])).content.decode()

    for page in (ops_page, side_page):
        assert "hubspot_owner_id 999" in page
        assert "Globex" in page
    assert "Retry the 1 record that failed" in ops_page
    assert "Retry the" not in side_page
    assert as_("ops").get(reverse("crm:run", args=[run.pk + 1])).status_code == 404


def test_the_run_page_shows_a_pulls_counts_by_object_type(as_):
    run = a_run(
        kind=SyncKind.PULL,
        state=SyncState.SUCCEEDED,
        total=5,
        done=5,
        detail={
            "skipped": 1,
            "objects": {
                "contacts": {
                    "total": 5,
                    "read": 5,
                    "created": 4,
                    "updated": 0,
                    "unchanged": 0,
                    "skipped": 1,
                    "deleted": 0,
                    "failed": 0,
                },
            },
        },
    )

    page = as_("ops").get(reverse("crm:run", args=[run.pk])).content.decode()

    assert "By object type" in page
    assert '<td>contacts</td><td class="text-end">5</td>' in page
    assert '<dd class="col-sm-3" data-field="skipped">1</dd>' in page


def test_the_progress_json_tells_the_script_how_runs_stand(as_):
    running = a_run(state=SyncState.RUNNING, total=120, done=30, sent=30, created=30)
    finished = a_run(state=SyncState.FAILED, total=4, done=4, failed=4, message="CRM down")
    a_run(state=SyncState.RUNNING)  # not asked for

    response = as_("marketer").get(
        reverse("crm:progress") + f"?id={running.pk}&id={finished.pk}&id=x"
    )

    assert response.status_code == 200
    runs = {run["id"]: run for run in response.json()["runs"]}
    assert set(runs) == {running.pk, finished.pk}
    assert runs[running.pk] == {
        "id": running.pk,
        "kind": "push",
        "state": "running",
        "state_label": "Running",
        "state_class": "text-bg-primary",
        "finished": False,
        "done": 30,
        "total": 120,
        "percent": 25,
        "sent": 30,
        "created": 30,
        "updated": 0,
        "unchanged": 0,
        "failed": 0,
        "skipped": 0,
        "message": "",
    }
    assert (runs[finished.pk]["finished"], runs[finished.pk]["message"]) == (True, "CRM down")


@pytest.mark.parametrize("role, status", [("nobody", 403), ("anonymous", 302)])
def test_the_progress_json_is_for_members_only(role, status, as_):
    run = a_run(state=SyncState.RUNNING)

    response = as_(role).get(reverse("crm:progress") + f"?id={run.pk}")

    assert response.status_code == status


def test_the_navigation_links_to_the_sync_page(as_):
    page = as_("sales_member").get("/").content.decode()

    assert 'href="/sync/">Sync</a>' in page
