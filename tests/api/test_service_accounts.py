"""Read-only integration tokens for CRM-side jobs: made by ops, revocable, and read-only."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from api.models import ServiceAccount
from tests.api.conftest import client_for
from tests.factories import AccountFactory
from workflow import services
from workflow.models import Comment, SignOff


def _token_from(output: str) -> str:
    return output.split("API token: ")[1].strip()


def test_it_creates_an_integration_token_from_the_command_line(db, the_cycle):
    out = StringIO()
    call_command("accord_service_account", "hubspot-job", "--description", "Nightly", stdout=out)
    token = _token_from(out.getvalue())
    crm = client_for(token=token)
    assert crm.get(f"/api/v1/cycles/{the_cycle.pk}/target-accounts/").status_code == 200
    service_account = ServiceAccount.objects.get(user__username="hubspot-job")
    assert service_account.description == "Nightly"
    assert not service_account.user.has_usable_password()


def test_it_rotates_and_revokes_from_the_command_line(db, integration_token):
    out = StringIO()
    call_command("accord_service_account", "crm-sync", "--rotate", stdout=out)
    new = _token_from(out.getvalue())
    assert client_for(token=integration_token).get("/api/v1/me/").status_code == 401
    assert client_for(token=new).get("/api/v1/me/").status_code == 200
    call_command("accord_service_account", "crm-sync", "--revoke", stdout=StringIO())
    assert client_for(token=new).get("/api/v1/me/").status_code == 401
    with pytest.raises(CommandError, match="no integration login called ghost"):
        call_command("accord_service_account", "ghost", "--revoke")
    with pytest.raises(CommandError, match="already taken"):
        call_command("accord_service_account", "crm-sync")


def test_it_lets_ops_create_list_and_revoke_tokens_through_the_api(people, clients):
    ops = clients["ops"]
    created = ops.post(
        "/api/v1/service-accounts/", {"username": "sf-sync", "description": "Salesforce"}
    )
    assert created.status_code == 201
    token = created.json()["token"]
    assert client_for(token=token).get("/api/v1/accounts/").status_code == 200
    listed = ops.get("/api/v1/service-accounts/").json()["results"]
    assert {(s["username"], s["has_token"]) for s in listed} == {
        ("crm-sync", True),
        ("sf-sync", True),
    }
    assert all("token" not in s for s in listed)
    assert listed[1]["created_by"]["username"] == people.ops.username

    revoked = ops.post(f"/api/v1/service-accounts/{created.json()['id']}/revoke/")
    assert revoked.status_code == 200
    assert revoked.json()["has_token"] is False
    assert client_for(token=token).get("/api/v1/accounts/").status_code == 401


def test_it_refuses_a_name_already_taken(people, clients):
    response = clients["ops"].post("/api/v1/service-accounts/", {"username": "sam"})
    assert response.status_code == 409
    assert response.json()["fields"]["username"]


def test_it_keeps_an_integration_token_read_only(people, the_cycle, account, clients):
    crm = clients["integration"]
    nomination = services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )
    n = f"/api/v1/nominations/{nomination.pk}/"
    refused = [
        crm.post("/api/v1/accounts/", {"name": "X", "domain": "x.example"}),
        crm.patch(f"/api/v1/accounts/{account.pk}/", {"name": "Y"}),
        crm.post(
            "/api/v1/cycles/",
            {"name": "C", "starts_on": "2028-01-01", "ends_on": "2028-02-01", "tiers": []},
        ),
        crm.post(
            "/api/v1/nominations/",
            {
                "cycle": the_cycle.pk,
                "account": AccountFactory().pk,
                "kind": "add",
                "tier": 1,
                "rationale": "Because",
            },
        ),
        crm.post(f"{n}decisions/", {"decision": "approve"}),
        crm.post(f"{n}comments/", {"body": "Hi"}),
        crm.post(f"{n}withdraw/", {}),
        crm.get(n),
        crm.get(f"{n}comments/"),
        crm.get(f"{n}events/"),
        crm.get("/api/v1/service-accounts/"),
        crm.post("/api/v1/service-accounts/", {"username": "escalate"}),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert SignOff.objects.filter(by_submission=False).count() == 0
    assert not Comment.objects.exists()
    assert not ServiceAccount.objects.filter(user__username="escalate").exists()
    # The service itself refuses too, should a view ever forget to.
    from api.models import ServiceAccount as SA
    from core.errors import NotAllowed

    robot = SA.objects.get(user__username="crm-sync").user
    with pytest.raises(NotAllowed):
        services.comment_create(nomination=nomination, by=robot, body="Hi")


def test_it_lets_ops_issue_and_revoke_tokens_in_the_admin(people, integration_token):
    from django.test import Client

    ops_person = people.ops
    ops_person.is_staff = True  # ops are staff; their rights come from the ops group
    ops_person.save()
    admin = Client()
    admin.force_login(ops_person)
    service_account = ServiceAccount.objects.get(user__username="crm-sync")
    changelist = "/admin/api/serviceaccount/"
    assert admin.get(changelist).status_code == 200

    issued = admin.post(
        changelist, {"action": "issue_new_token", "_selected_action": [service_account.pk]}
    )
    # Shown on the answer page itself, once: not a message, which may wait in the session.
    assert issued.status_code == 200 and "no-store" in issued["Cache-Control"]
    new = issued.content.decode().split('<code class="new-token">')[1].split("<")[0]
    assert not list(issued.context["messages"])
    assert new not in admin.get(changelist).content.decode()
    assert client_for(token=integration_token).get("/api/v1/me/").status_code == 401
    assert client_for(token=new).get("/api/v1/me/").status_code == 200

    admin.post(changelist, {"action": "revoke_token", "_selected_action": [service_account.pk]})
    assert client_for(token=new).get("/api/v1/me/").status_code == 401


def test_it_shows_the_token_only_in_the_create_and_rotate_answers(people, clients):
    ops = clients["ops"]
    created = ops.post("/api/v1/service-accounts/", {"username": "sf-sync"}).json()
    first = created["token"]
    assert created["current_token"]["prefix"] == first[:15]
    assert created["current_token"]["expires_at"] is None  # integration tokens: by default

    rotated = ops.post(f"/api/v1/service-accounts/{created['id']}/rotate/")
    assert rotated.status_code == 200
    second = rotated.json()["token"]
    assert second != first
    assert client_for(token=first).get("/api/v1/accounts/").status_code == 401
    assert client_for(token=second).get("/api/v1/accounts/").status_code == 200

    listed = ops.get("/api/v1/service-accounts/")
    body = listed.content.decode()
    assert first not in body and second not in body
    entry = next(s for s in listed.json()["results"] if s["username"] == "sf-sync")
    assert "token" not in entry
    assert entry["has_token"] is True
    assert entry["current_token"]["prefix"] == second[:15]
    assert entry["current_token"]["last_used_at"] is not None  # it was just used
    revoked = ops.post(f"/api/v1/service-accounts/{created['id']}/revoke/").json()
    assert revoked["has_token"] is False and revoked["current_token"] is None
    assert second not in str(revoked)


def test_a_replayed_create_does_not_show_the_token_again(people, clients):
    ops = clients["ops"]
    first = ops.post(
        "/api/v1/service-accounts/", {"username": "sf-sync"}, HTTP_IDEMPOTENCY_KEY="sf-1"
    )
    again = ops.post(
        "/api/v1/service-accounts/", {"username": "sf-sync"}, HTTP_IDEMPOTENCY_KEY="sf-1"
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert first.json()["token"]
    assert again.json()["token"] is None
    assert again.json()["current_token"] == first.json()["current_token"]
    assert ServiceAccount.objects.filter(user__username="sf-sync").count() == 1


def test_only_ops_rotate_integration_tokens(people, clients, integration_token):
    robot = ServiceAccount.objects.get(user__username="crm-sync")
    url = f"/api/v1/service-accounts/{robot.pk}/rotate/"
    answers = {
        role: clients[role].post(url).status_code
        for role in ("proposer", "other_side_approver", "non_approver", "integration")
    }
    assert answers == dict.fromkeys(answers, 403)
    assert clients["anonymous"].post(url).status_code == 401
    assert client_for(token=integration_token).get("/api/v1/me/").status_code == 200
    assert clients["ops"].post("/api/v1/service-accounts/999999/rotate/").status_code == 404
