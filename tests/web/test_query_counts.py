"""The queue and cycle pages cost the same number of SQL queries whether a cycle has 10 or
1,000 nominations: lists are fetched with their related rows, counted once, and paginated."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts_app.models import Account
from workflow.models import (
    Comment,
    Decision,
    Nomination,
    SignOff,
    State,
    TargetAccount,
)

MAX_QUERIES = 20
STATES = [State.IN_REVIEW, State.APPROVED, State.DRAFT, State.CHANGES_REQUESTED, State.REJECTED]


def add_nominations(cycle, people, how_many: int, start: int) -> None:
    """`how_many` nominations in every state, written with bulk_create: half proposed by
    marketing (some waiting for sales), some by the viewer, with comments mentioning them."""
    now = timezone.now()
    accounts = Account.objects.bulk_create(
        Account(
            name=f"Company {i}",
            domain=f"company-{i}.example",
            fit_score=i % 101,
            sales_owner=people.sales_member,
            marketing_owner=people.marketing_member,
        )
        for i in range(start, start + how_many)
    )
    proposers = itertools.cycle([(people.marketer, "marketing"), (people.sales_approver, "sales")])
    nominations = Nomination.objects.bulk_create(
        Nomination(
            cycle=cycle,
            account=account,
            kind="add",
            tier=(i % 3) + 1,
            rationale="Bulk",
            proposer=proposer,
            proposer_side=side,
            state=state,
            waiting_since=now if state == State.IN_REVIEW else None,
        )
        for i, (account, state, (proposer, side)) in enumerate(
            zip(accounts, itertools.cycle(STATES), proposers, strict=False)
        )
    )
    SignOff.objects.bulk_create(
        SignOff(
            nomination=n,
            round=1,
            person=n.proposer,
            side=n.proposer_side,
            decision=Decision.APPROVE,
            by_submission=True,
        )
        for n in nominations
        if n.state != State.DRAFT
    )
    TargetAccount.objects.bulk_create(
        TargetAccount(
            cycle=cycle,
            account=n.account,
            tier=n.tier,
            sales_owner=people.sales_member,
            marketing_owner=people.marketing_member,
            nomination=n,
            last_nomination=n,
            added_at=now,
            updated_at=now,
        )
        for n in nominations
        if n.state == State.APPROVED
    )
    comments = Comment.objects.bulk_create(
        Comment(
            nomination=n,
            author=people.marketer,
            author_side="marketing",
            body=f"@{people.sales_approver.username} what do you think?",
        )
        for n in nominations[::2]
    )
    Comment.mentions.through.objects.bulk_create(
        Comment.mentions.through(comment_id=c.pk, user_id=people.sales_approver.pk)
        for c in comments
    )


PAGES = {
    "queue: waiting": ("workflow:queue", "?tab=waiting", "Company"),
    "queue: proposals": ("workflow:queue", "?tab=proposals", "Company"),
    "queue: mentions": ("workflow:queue", "?tab=mentions", "what do you think?"),
    "cycle: agreed list": ("workflow:cycle", "?view=list", "Company"),
    "cycle: nominations": ("workflow:cycle", "?view=nominations", "Company"),
    "cycle: filtered": (
        "workflow:cycle",
        "?view=nominations&state=in_review&tier=1&side=marketing&q=company&owner={owner}",
        "Company",
    ),
    "cycle: page 2": ("workflow:cycle", "?view=nominations&page=2", "Company"),
}


def queries_for(client, url: str, expect: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    assert expect in response.content.decode()
    return len(queries)


@pytest.mark.parametrize("page", list(PAGES))
def test_it_uses_the_same_number_of_queries_for_10_and_1000_nominations(
    page, people, the_cycle, as_, django_assert_max_num_queries
):
    name, query, expect = PAGES[page]
    args = [the_cycle.pk] if name == "workflow:cycle" else []
    url = reverse(name, args=args) + query.format(owner=people.sales_member.pk)
    client = as_(people.sales_approver)
    client.get(url)  # warm up: session, content types

    add_nominations(the_cycle, people, 10, start=0)
    with_10 = queries_for(client, url, expect)

    add_nominations(the_cycle, people, 990, start=10)
    assert Nomination.objects.count() == 1000
    with_1000 = queries_for(client, url, expect)

    assert with_10 == with_1000
    with django_assert_max_num_queries(MAX_QUERIES):
        client.get(url)
