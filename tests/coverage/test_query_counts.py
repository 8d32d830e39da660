"""The API reads a stored snapshot in a fixed number of queries, and a snapshot is computed in
a fixed number of queries (aggregates, not a query per account): 10 accounts or 1,000."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts_app.models import Account, Activity, Contact, ContactRole, Opportunity
from coverage.services import snapshot_take
from tests.api.conftest import client_for
from tests.factories import cycle
from tests.workflow.helpers import put_on_list
from workflow.models import TargetAccount

_serial = itertools.count()


def grow_list(people, cycle, n):
    """`n` more target accounts, each with two contacts (one with a role), two activities and
    an opportunity, written in bulk."""
    first = TargetAccount.objects.filter(cycle=cycle).first()
    if first is None:
        first = put_on_list(
            people,
            cycle,
            Account.objects.create(name=f"Seed {cycle.pk}", domain=f"seed{cycle.pk}.example"),
        )
    accounts = Account.objects.bulk_create(
        Account(name=f"Company {i}", domain=f"c{i}.example", sales_owner=people.sales_member)
        for i in (next(_serial) for _ in range(n))
    )
    now = timezone.now()
    TargetAccount.objects.bulk_create(
        TargetAccount(
            cycle=cycle,
            account=a,
            tier=1 + a.pk % 3,
            nomination=first.nomination,
            last_nomination=first.nomination,
            added_at=now,
            updated_at=now,
        )
        for a in accounts
    )
    contacts = Contact.objects.bulk_create(
        Contact(account=a, email=f"{k}@{a.domain}") for a in accounts for k in ("ada", "bob")
    )
    ContactRole.objects.bulk_create(ContactRole(contact=c, role="champion") for c in contacts[::2])
    Activity.objects.bulk_create(
        Activity(account=c.account, contact=c, kind="email", side=side, occurred_at=now)
        for c in contacts
        for side in ("marketing",)
    )
    Opportunity.objects.bulk_create(
        Opportunity(account=a, name="Deal", amount=100, status="open") for a in accounts
    )


def queries(action) -> int:
    with CaptureQueriesContext(connection) as captured:
        action()
    return len(captured)


@pytest.fixture
def ops(people):
    return client_for(people.ops)


def test_the_coverage_endpoints_cost_the_same_at_10_and_1000_accounts(people, the_cycle, ops):
    url = f"/api/v1/cycles/{the_cycle.pk}/coverage/"
    grow_list(people, the_cycle, 10)
    snapshot_take(cycle=the_cycle)
    ops.get(url)  # the token and groups are cached after the first request
    small = (
        queries(lambda: ops.get(url)),
        queries(lambda: ops.get(url + "accounts/?page_size=1000")),
        queries(lambda: ops.get(url + "accounts/?gap=missing_role&tier=2")),
    )
    grow_list(people, the_cycle, 990)
    snapshot_take(cycle=the_cycle)
    large = (
        queries(lambda: ops.get(url)),
        queries(lambda: ops.get(url + "accounts/?page_size=1000")),
        queries(lambda: ops.get(url + "accounts/?gap=missing_role&tier=2")),
    )
    assert ops.get(url + "accounts/?page_size=1000").json()["count"] == 1001
    assert large == small


def captured(action) -> list[str]:
    with CaptureQueriesContext(connection) as queries_:
        action()
    return [query["sql"] for query in queries_.captured_queries]


def test_a_snapshot_costs_the_same_queries_at_10_and_1000_accounts(people, the_cycle):
    larger = cycle("FY27 H2", capacities=(2000, 2000, 2000))
    grow_list(people, the_cycle, 10)
    grow_list(people, larger, 1000)
    small = captured(lambda: snapshot_take(cycle=the_cycle))
    large = captured(lambda: snapshot_take(cycle=larger))
    assert larger.coverage_snapshots.get().total == 1001

    def reads_and_writes_but_row_inserts(sqls):
        return len([sql for sql in sqls if not sql.startswith('INSERT INTO "coverage_account')])

    assert reads_and_writes_but_row_inserts(large) == reads_and_writes_but_row_inserts(small)
    if connection.vendor == "postgresql":
        # One COPY per batch of 2,000 rows (not counted as a query) …
        assert len(large) == len(small)
    else:
        # … where SQLite's INSERT holds at most 999 parameters, about 30 rows.
        assert len(large) - len(small) <= 1001 // 30
