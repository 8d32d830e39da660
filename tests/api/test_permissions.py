"""Every endpoint × every role: what each may do, and the status the others get.

The roles (tests/api/conftest.py): the proposer of the nomination under test (a marketing
approver), an approver of the same side, an approver of the other side, a marketing person who
is not an approver, revenue operations, an integration token, and nobody.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from django.db import transaction

from accounts_app.models import Account
from api.models import ServiceAccount
from tests.api.conftest import ROLES, client_for
from tests.factories import AccountFactory
from workflow import services
from workflow.models import Nomination, State, TargetAccount


@dataclass
class World:
    cycle: Any
    account: Any
    spare_account: Any
    nomination: Any
    service_account: Any


@pytest.fixture
def world(people, the_cycle, account, integration_token):
    listed = AccountFactory(name="Initech", domain="initech.example")
    on_list = services.nomination_create(
        cycle=the_cycle,
        account=listed,
        kind="add",
        tier=2,
        rationale="Known fit",
        by=people.marketing_approver,
    )
    services.nomination_sign_off(nomination=on_list, by=people.sales_approver, decision="approve")
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    services.list_version_publish(cycle=the_cycle, by=people.ops)
    nomination = services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Strong fit",
        by=people.marketer,
    )
    return World(
        cycle=the_cycle,
        account=account,
        spare_account=AccountFactory(name="Umbrella", domain="umbrella.example"),
        nomination=nomination,
        service_account=ServiceAccount.objects.get(user__username="crm-sync"),
    )


def ask_changes(world, people):
    services.nomination_sign_off(
        nomination=world.nomination,
        by=people.sales_approver,
        decision="request_changes",
        note="Tier 2?",
    )


def take_snapshot(world, people):
    from coverage.services import snapshot_take

    snapshot_take(cycle=world.cycle)


MEMBERS = ("proposer", "same_side_approver", "other_side_approver", "non_approver", "ops")
SIDE_PEOPLE = ("proposer", "same_side_approver", "other_side_approver", "non_approver")


def allowed(status: int, who: tuple[str, ...], *, otherwise: int = 403) -> dict[str, int]:
    return {
        role: status if role in who else (401 if role == "anonymous" else otherwise)
        for role in ROLES
    }


EVERYONE_SIGNED_IN = (*MEMBERS, "integration")


@dataclass
class Operation:
    name: str
    method: str
    url: Any  # world -> str
    expected: dict[str, int]
    body: Any = None  # world -> dict
    setup: Any = None  # (world, people) -> None


N = "/api/v1/nominations/"
OPERATIONS = [
    Operation("me", "get", lambda w: "/api/v1/me/", allowed(200, EVERYONE_SIGNED_IN)),
    Operation("accounts", "get", lambda w: "/api/v1/accounts/", allowed(200, EVERYONE_SIGNED_IN)),
    Operation(
        "account create",
        "post",
        lambda w: "/api/v1/accounts/",
        allowed(201, MEMBERS),
        body=lambda w: {"name": "Hooli", "domain": "hooli.example"},
    ),
    Operation(
        "account",
        "get",
        lambda w: f"/api/v1/accounts/{w.account.pk}/",
        allowed(200, EVERYONE_SIGNED_IN),
    ),
    Operation(
        "account update",
        "patch",
        lambda w: f"/api/v1/accounts/{w.account.pk}/",
        allowed(200, ("ops",)),
        body=lambda w: {"industry": "Retail"},
    ),
    Operation("cycles", "get", lambda w: "/api/v1/cycles/", allowed(200, EVERYONE_SIGNED_IN)),
    Operation(
        "cycle create",
        "post",
        lambda w: "/api/v1/cycles/",
        allowed(201, ("ops",)),
        body=lambda w: {
            "name": "FY28 H1",
            "starts_on": "2028-01-01",
            "ends_on": "2028-06-30",
            "tiers": [{"number": n, "capacity": 10} for n in (1, 2, 3)],
        },
    ),
    Operation(
        "cycle", "get", lambda w: f"/api/v1/cycles/{w.cycle.pk}/", allowed(200, EVERYONE_SIGNED_IN)
    ),
    Operation(
        "cycle update",
        "patch",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/",
        allowed(200, ("ops",)),
        body=lambda w: {"sales_quorum": 2},
    ),
    Operation(
        "cycle events",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/events/",
        allowed(200, MEMBERS),
    ),
    Operation(
        "target accounts",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/target-accounts/",
        allowed(200, EVERYONE_SIGNED_IN),
    ),
    Operation(
        "coverage",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/coverage/",
        allowed(200, EVERYONE_SIGNED_IN),
        setup=take_snapshot,
    ),
    Operation(
        "coverage accounts",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/coverage/accounts/",
        allowed(200, EVERYONE_SIGNED_IN),
        setup=take_snapshot,
    ),
    Operation(
        "versions",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/versions/",
        allowed(200, EVERYONE_SIGNED_IN),
    ),
    Operation(
        "version",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/versions/1/",
        allowed(200, EVERYONE_SIGNED_IN),
    ),
    Operation(
        "version diff",
        "get",
        lambda w: f"/api/v1/cycles/{w.cycle.pk}/versions/2/diff/?against=1",
        allowed(200, EVERYONE_SIGNED_IN),
    ),
    Operation("nominations", "get", lambda w: N, allowed(200, MEMBERS)),
    Operation(
        "nominate",
        "post",
        lambda w: N,
        allowed(201, SIDE_PEOPLE),
        body=lambda w: {
            "cycle": w.cycle.pk,
            "account": w.spare_account.pk,
            "kind": "add",
            "tier": 3,
            "rationale": "Good fit",
        },
    ),
    Operation("nomination", "get", lambda w: f"{N}{w.nomination.pk}/", allowed(200, MEMBERS)),
    Operation(
        "decisions", "get", lambda w: f"{N}{w.nomination.pk}/decisions/", allowed(200, MEMBERS)
    ),
    Operation(
        "decide",
        "post",
        lambda w: f"{N}{w.nomination.pk}/decisions/",
        allowed(201, ("same_side_approver", "other_side_approver")),
        body=lambda w: {"decision": "approve"},
    ),
    Operation(
        "comments", "get", lambda w: f"{N}{w.nomination.pk}/comments/", allowed(200, MEMBERS)
    ),
    Operation(
        "comment",
        "post",
        lambda w: f"{N}{w.nomination.pk}/comments/",
        allowed(201, MEMBERS),
        body=lambda w: {"body": "Looks right"},
    ),
    Operation("events", "get", lambda w: f"{N}{w.nomination.pk}/events/", allowed(200, MEMBERS)),
    Operation(
        "withdraw",
        "post",
        lambda w: f"{N}{w.nomination.pk}/withdraw/",
        allowed(200, ("proposer",)),
        body=lambda w: {"note": "Not now"},
    ),
    Operation(
        "resubmit",
        "post",
        lambda w: f"{N}{w.nomination.pk}/resubmit/",
        allowed(200, ("proposer",)),
        body=lambda w: {"tier": 2},
        setup=ask_changes,
    ),
    Operation(
        "service accounts", "get", lambda w: "/api/v1/service-accounts/", allowed(200, ("ops",))
    ),
    Operation(
        "service account create",
        "post",
        lambda w: "/api/v1/service-accounts/",
        allowed(201, ("ops",)),
        body=lambda w: {"username": "salesforce-sync"},
    ),
    Operation(
        "service account rotate",
        "post",
        lambda w: f"/api/v1/service-accounts/{w.service_account.pk}/rotate/",
        allowed(200, ("ops",)),
    ),
    Operation(
        "service account revoke",
        "post",
        lambda w: f"/api/v1/service-accounts/{w.service_account.pk}/revoke/",
        allowed(200, ("ops",)),
    ),
]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.name)
def test_it_answers_each_role_as_the_matrix_says(operation, world, people, clients):
    if operation.setup:
        operation.setup(world, people)
    body = operation.body(world) if operation.body else None
    answers, malformed = {}, []
    for role in ROLES:
        # Each role meets the same state: what one does is rolled back before the next.
        with transaction.atomic():
            response = getattr(clients[role], operation.method)(operation.url(world), body)
            transaction.set_rollback(True)
        answers[role] = response.status_code
        if response.status_code >= 400:
            error = response.json()
            if not (error.get("detail") and error.get("code")):
                malformed.append((role, error))
        if response.status_code == 401 and response.get("WWW-Authenticate") != "Token":
            malformed.append((role, "no WWW-Authenticate: Token"))
    assert answers == operation.expected
    assert not malformed


def test_it_refuses_a_signed_in_person_with_no_side_everything_but_me(db, outsider, world):
    client = client_for(outsider)
    assert client.get("/api/v1/me/").json()["side"] is None
    for url in (
        "/api/v1/accounts/",
        f"/api/v1/cycles/{world.cycle.pk}/target-accounts/",
        "/api/v1/nominations/",
        f"/api/v1/nominations/{world.nomination.pk}/comments/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "marketing or sales side" in response.json()["detail"]


def test_it_changes_nothing_when_a_role_is_refused(world, people, clients):
    """The refusals above are refusals: the state is the same afterwards."""
    for role in ("proposer", "non_approver", "ops", "integration", "anonymous"):
        clients[role].post(f"{N}{world.nomination.pk}/decisions/", {"decision": "approve"})
        clients[role].post(f"{N}{world.nomination.pk}/decisions/", {"decision": "reject"})
    for role in ("same_side_approver", "other_side_approver", "ops", "integration"):
        clients[role].post(f"{N}{world.nomination.pk}/withdraw/", {})
    clients["integration"].post("/api/v1/accounts/", {"name": "X", "domain": "x.example"})
    clients["proposer"].patch(f"/api/v1/accounts/{world.account.pk}/", {"industry": "Mining"})
    nomination = Nomination.objects.get(pk=world.nomination.pk)
    assert nomination.state == State.IN_REVIEW
    assert nomination.sign_offs.count() == 1  # the proposer's own
    assert not Account.objects.filter(domain="x.example").exists()
    assert Account.objects.get(pk=world.account.pk).industry == "Software"


def test_it_says_why_an_integration_token_cannot_see_nominations(world, clients):
    response = clients["integration"].get(N)
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]
    assert "agreed list" in response.json()["detail"]


def test_it_lets_the_integration_token_read_the_agreed_list(world, clients):
    entries = clients["integration"].get(f"/api/v1/cycles/{world.cycle.pk}/target-accounts/")
    assert [e["account"]["domain"] for e in entries.json()["results"]] == ["initech.example"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/accounts/999999/",
        "/api/v1/cycles/999999/",
        "/api/v1/cycles/999999/target-accounts/",
        "/api/v1/cycles/999999/versions/",
        "/api/v1/nominations/999999/",
        "/api/v1/nominations/999999/comments/",
        "/api/v1/nominations/999999/events/",
        "/api/v1/nominations/999999/decisions/",
        "/api/v1/nominations/99999999999999999999999/",
        "/api/v1/no-such-thing/",
    ],
)
def test_it_answers_404_in_json_for_what_does_not_exist(world, clients, url):
    response = clients["ops"].get(url)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_it_answers_404_for_a_version_the_cycle_does_not_have(world, clients):
    cycle = world.cycle.pk
    assert clients["ops"].get(f"/api/v1/cycles/{cycle}/versions/9/").status_code == 404
    diff = clients["ops"].get(f"/api/v1/cycles/{cycle}/versions/2/diff/?against=9")
    assert diff.status_code == 404
    assert "no version 9" in diff.json()["detail"]


def test_it_answers_the_decisions_of_both_sides_from_their_own_groups(world, people, clients):
    """The same-side approver's approval counts for marketing and does not approve; the other
    side's does."""
    url = f"{N}{world.nomination.pk}/decisions/"
    same = clients["same_side_approver"].post(url, {"decision": "approve"}).json()
    assert same["decision"]["side"] == "marketing"
    assert same["nomination"]["state"] == "in_review"
    other = clients["other_side_approver"].post(url, {"decision": "approve"}).json()
    assert other["decision"]["side"] == "sales"
    assert other["nomination"]["state"] == "approved"
    assert TargetAccount.objects.filter(account=world.account, cycle=world.cycle).exists()
