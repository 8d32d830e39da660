"""`/api/v1/sync-runs/`: every role's access, starting a push or a pull (ops), validation,
idempotency, and what a run says about its progress and failed records."""

import pytest
from django.utils import timezone

from crm.models import SyncKind, SyncRun, SyncRunError, SyncState, SyncTrigger
from tests.api.conftest import ROLES
from tests.factories import AccountFactory

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/sync-runs/"
MEMBERS = ("proposer", "same_side_approver", "other_side_approver", "non_approver", "ops")


def a_run(**fields) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        **{
            "kind": SyncKind.PUSH,
            "backend": "hubspot",
            "trigger": SyncTrigger.COMMAND,
            "created_at": now,
            "updated_at": now,
            **fields,
        }
    )


def expected(allowed_roles, status, *, otherwise=403):
    return {
        role: status if role in allowed_roles else (401 if role == "anonymous" else otherwise)
        for role in ROLES
    }


@pytest.mark.parametrize("role", ROLES)
def test_members_read_the_runs(role, clients):
    run = a_run(state=SyncState.RUNNING, total=8, done=2)

    listed = clients[role].get(RUNS)
    one = clients[role].get(f"{RUNS}{run.pk}/")

    assert listed.status_code == expected(MEMBERS, 200)[role]
    assert one.status_code == expected(MEMBERS, 200)[role]
    if role in MEMBERS:
        assert [r["id"] for r in listed.json()["results"]] == [run.pk]
        assert one.json()["percent"] == 25


@pytest.mark.parametrize("role", ROLES)
def test_only_ops_start_a_push(role, clients):
    response = clients[role].post(RUNS, {"kind": "push"})

    assert response.status_code == expected(("ops",), 201)[role]
    assert SyncRun.objects.filter(kind=SyncKind.PUSH).count() == (role == "ops")
    if role in ("proposer", "non_approver"):
        assert response.json()["detail"] == "Only revenue operations can start a CRM push."


@pytest.mark.parametrize("role", ROLES)
def test_only_ops_start_a_pull(role, clients, settings):
    settings.CRM_BACKEND = "hubspot"

    response = clients[role].post(RUNS, {"kind": "pull", "full": True})

    assert response.status_code == expected(("ops",), 201)[role]
    if role == "ops":
        body = response.json()
        assert response["Location"].endswith(f"{RUNS}{body['id']}/")
        assert (body["kind"], body["state"], body["trigger"], body["backend"]) == (
            "pull",
            "queued",
            "api",
            "hubspot",
        )
        assert body["detail"] == {"full": True}
        assert body["triggered_by"]["username"] == "olga"


def test_a_push_of_one_cycle(clients, the_cycle):
    response = clients["ops"].post(RUNS, {"kind": "push", "cycle": the_cycle.pk})

    assert response.status_code == 201
    assert response.json()["cycle"] == the_cycle.pk
    again = clients["ops"].post(RUNS, {"kind": "push", "cycle": the_cycle.pk})
    assert again.status_code == 409
    assert again.json()["code"] == "conflict"


def test_a_pull_with_no_crm_to_pull_from_is_a_conflict(clients, settings):
    settings.CRM_BACKEND = "none"

    response = clients["ops"].post(RUNS, {"kind": "pull"})

    assert response.status_code == 409
    assert "There is no CRM to pull from" in response.json()["detail"]
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"kind": "pull", "cycle": 1}, "cycle"),
        ({"kind": "push", "full": True}, "full"),
        ({"kind": "push", "cycle": 999_999}, "cycle"),
        ({"kind": "sideways"}, "kind"),
        ({}, "kind"),
        ({"kind": "push", "force": True}, "force"),
    ],
)
def test_it_names_the_field_at_fault(body, field, clients, settings):
    settings.CRM_BACKEND = "hubspot"

    response = clients["ops"].post(RUNS, body)

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not SyncRun.objects.exists()


def test_a_repeated_request_with_the_same_idempotency_key_starts_one_run(clients, settings):
    settings.CRM_BACKEND = "hubspot"
    ops = clients["ops"]

    first = ops.post(RUNS, {"kind": "pull"}, HTTP_IDEMPOTENCY_KEY="pull-1")
    again = ops.post(RUNS, {"kind": "pull"}, HTTP_IDEMPOTENCY_KEY="pull-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert SyncRun.objects.count() == 1


def test_a_run_lists_its_counts_and_the_records_that_failed(clients):
    account = AccountFactory(name="Globex")
    run = a_run(
        state=SyncState.PARTIAL,
        total=3,
        done=3,
        sent=3,
        created=1,
        updated=1,
        failed=1,
        requests=2,
        message="",
    )
    SyncRunError.objects.create(
        run=run, object_type="company", object_key="k-1", account=account, message="Refused."
    )

    body = clients["non_approver"].get(f"{RUNS}{run.pk}/").json()

    assert {k: body[k] for k in ("state", "total", "done", "sent", "created", "updated")} == {
        "state": "partial",
        "total": 3,
        "done": 3,
        "sent": 3,
        "created": 1,
        "updated": 1,
    }
    assert (body["failed"], body["error_count"], body["requests"]) == (1, 1, 2)
    assert body["errors"] == [
        {
            "object_type": "company",
            "object_key": "k-1",
            "account": account.pk,
            "message": "Refused.",
            "created_at": body["errors"][0]["created_at"],
        }
    ]


def test_runs_filter_by_kind_and_state(clients):
    push = a_run(state=SyncState.SUCCEEDED)
    pull = a_run(kind=SyncKind.PULL, state=SyncState.RUNNING)
    ops = clients["ops"]

    def ids(query):
        return [r["id"] for r in ops.get(RUNS + query).json()["results"]]

    assert ids("?kind=pull") == [pull.pk]
    assert ids("?state=succeeded") == [push.pk]
    assert ids("?kind=") == [pull.pk, push.pk]  # empty means absent; newest first
    assert ops.get(RUNS + "?state=done").status_code == 400


def test_an_unknown_run_is_a_404(clients):
    response = clients["ops"].get(f"{RUNS}12345/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
