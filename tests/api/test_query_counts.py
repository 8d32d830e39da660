"""Every list endpoint costs the same number of SQL queries for 10 rows as for 500."""

import datetime as dt
import itertools

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import get_digest_token
from knox.settings import CONSTANTS

from accounts_app.models import Account
from api.models import ApiToken, ServiceAccount
from workflow.models import (
    Comment,
    Cycle,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    TargetAccount,
    Tier,
)

User = get_user_model()
_serial = itertools.count()


def _accounts(n, people):
    return Account.objects.bulk_create(
        Account(
            name=f"Company {i}",
            domain=f"company{i}.example",
            sales_owner=people.sales_member,
            marketing_owner=people.marketing_member,
            fit_score=50,
        )
        for i in (next(_serial) for _ in range(n))
    )


def _nominations(n, world, **fields):
    return Nomination.objects.bulk_create(
        Nomination(
            cycle=world.cycle,
            account=account,
            kind="add",
            tier=1,
            rationale="Fit",
            proposer=world.people.marketer,
            proposer_side="marketing",
            state="approved",
            **fields,
        )
        for account in _accounts(n, world.people)
    )


class World:
    def __init__(self, people, cycle):
        self.people = people
        self.cycle = cycle
        [self.nomination] = _nominations(1, self)


def add_accounts(n, world):
    _accounts(n, world.people)


def add_cycles(n, world):
    start = next(_serial) * 1000
    day = dt.date(2030, 1, 1)
    cycles = Cycle.objects.bulk_create(
        Cycle(
            name=f"C{start + i}",
            starts_on=day + dt.timedelta(days=start + i),
            ends_on=day + dt.timedelta(days=start + i + 90),
        )
        for i in range(n)
    )
    Tier.objects.bulk_create(
        Tier(cycle=c, number=number, capacity=10) for c in cycles for number in (1, 2, 3)
    )


def add_targets(n, world):
    now = timezone.now()
    TargetAccount.objects.bulk_create(
        TargetAccount(
            cycle=world.cycle,
            account=nomination.account,
            tier=2,
            sales_owner=world.people.sales_member,
            marketing_owner=world.people.marketing_member,
            nomination=nomination,
            last_nomination=nomination,
            added_at=now,
            updated_at=now,
        )
        for nomination in _nominations(n, world)
    )


def add_nominations(n, world):
    _nominations(n, world)


def add_comments(n, world):
    comments = Comment.objects.bulk_create(
        Comment(nomination=world.nomination, author=world.people.sales_approver, body=f"c{i}")
        for i in range(n)
    )
    Comment.mentions.through.objects.bulk_create(
        Comment.mentions.through(comment=c, user=world.people.marketer) for c in comments
    )


def add_events(n, world):
    NominationEvent.objects.bulk_create(
        NominationEvent(
            nomination=world.nomination,
            actor=world.people.sales_approver,
            action="approve",
            to_state="in_review",
            round=1,
        )
        for _ in range(n)
    )


def add_decisions(n, world):
    start = next(_serial) * 1000 + 10
    SignOff.objects.bulk_create(
        SignOff(
            nomination=world.nomination,
            round=start + i,
            person=world.people.sales_approver,
            side="sales",
            decision="approve",
        )
        for i in range(n)
    )


def add_versions(n, world):
    start = next(_serial) * 1000
    ListVersion.objects.bulk_create(
        ListVersion(
            cycle=world.cycle,
            number=start + i + 1,
            entries=[
                {
                    "account_id": 1,
                    "account_name": "A",
                    "domain": "a.example",
                    "tier": 1,
                    "nomination_id": 1,
                }
            ],
            published_by=world.people.ops,
        )
        for i in range(n)
    )


def add_service_accounts(n, world):
    start = next(_serial) * 1000
    users = User.objects.bulk_create(User(username=f"robot{start + i}") for i in range(n))
    ServiceAccount.objects.bulk_create(
        ServiceAccount(user=u, created_by=world.people.ops) for u in users
    )
    tokens = [(*get_digest_token(), u) for u in users]
    ApiToken.objects.bulk_create(
        ApiToken(digest=digest, token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH], user=u)
        for digest, key, u in tokens
    )


CASES = {
    "accounts": (add_accounts, lambda w: "/api/v1/accounts/"),
    "cycles": (add_cycles, lambda w: "/api/v1/cycles/"),
    "target accounts": (add_targets, lambda w: f"/api/v1/cycles/{w.cycle.pk}/target-accounts/"),
    "nominations": (add_nominations, lambda w: "/api/v1/nominations/"),
    "comments": (add_comments, lambda w: f"/api/v1/nominations/{w.nomination.pk}/comments/"),
    "events": (add_events, lambda w: f"/api/v1/nominations/{w.nomination.pk}/events/"),
    "decisions": (add_decisions, lambda w: f"/api/v1/nominations/{w.nomination.pk}/decisions/"),
    "versions": (add_versions, lambda w: f"/api/v1/cycles/{w.cycle.pk}/versions/"),
    "service accounts": (add_service_accounts, lambda w: "/api/v1/service-accounts/"),
}


def _queries(client, url) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, {"page_size": 1000})
    assert response.status_code == 200, response.content
    return len(captured), response.json()["count"]


@pytest.mark.parametrize("name", CASES)
def test_it_costs_the_same_queries_for_10_and_500_rows(name, people, the_cycle, clients):
    add, url = CASES[name]
    world = World(people, the_cycle)
    client = clients["ops"]
    # The token's first use is written down; later ones within the minute write nothing.
    client.get("/api/v1/me/")
    add(10, world)
    few, count_few = _queries(client, url(world))
    add(490, world)
    many, count_many = _queries(client, url(world))
    assert count_many - count_few == 490
    assert few == many, f"{name}: {few} queries for {count_few} rows, {many} for {count_many}"
