#!/usr/bin/env python3
"""Benchmark: the coverage dashboard and its pages at 20,000 target accounts, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/coverage_dashboard.py [--accounts 20000] [--requests 20]

1. Creates a throw-away database (test_<name>, dropped at the end) with the data set of
   bench/coverage_snapshot.py (10 contacts, 50 activities and 1.5 deals per account), the
   seller owning every account: their "my accounts that need action" is as long as it gets.
2. Takes two snapshots (yesterday's and today's), so the dashboard has a trend and history.
3. Requests each page in process (Django's test client, DEBUG off, signed in as the seller
   or as ops): the first dashboard view of a snapshot (which renders and caches its charts),
   then --requests views of each page. Median and 90th percentile in milliseconds, and the
   SQL queries of one request.

Target (issue "Coverage and alignment", item 9): the dashboard under 300 ms median.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")

from bench.common import machine  # noqa: E402
from bench.coverage_snapshot import REQUIRED, counts, populate  # noqa: E402


def timed(client, url: str, n: int) -> tuple[float, float, int]:
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    times.sort()
    return statistics.median(times), times[int(0.9 * (len(times) - 1))], len(statements)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases
    from django.urls import reverse
    from django.utils import timezone

    from coverage.services import snapshot_take
    from workflow.models import Cycle, CycleState, TargetAccount, Tier

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL.")
    print(f"Creating a throw-away database with {args.accounts:,} target accounts …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        User = get_user_model()
        marketer = User.objects.create(username="bench-marketer", first_name="Mara")
        seller = User.objects.create(username="bench-seller", first_name="Sid")
        ops = User.objects.create(username="bench-ops", first_name="Olga")
        for user, group in ((marketer, "marketing"), (seller, "sales"), (ops, "ops")):
            user.groups.add(Group.objects.get_or_create(name=group)[0])
        cycle = Cycle.objects.create(
            name="Bench",
            starts_on=dt.date(2027, 1, 1),
            ends_on=dt.date(2027, 12, 31),
            state=CycleState.ACTIVE,
        )
        Tier.objects.bulk_create(
            Tier(cycle=cycle, number=n, capacity=10 * args.accounts, required_roles=REQUIRED[n])
            for n in (1, 2, 3)
        )
        as_of = timezone.now().replace(microsecond=0) + dt.timedelta(days=1)
        started = time.perf_counter()
        populate(
            cycle=cycle,
            marketer=marketer,
            seller=seller,
            accounts=args.accounts,
            offset=0,
            as_of=as_of,
        )
        # On the list since before yesterday's snapshot.
        TargetAccount.objects.filter(cycle=cycle).update(added_at=as_of - dt.timedelta(days=3))
        print(f"  loaded in {time.perf_counter() - started:.0f} s: {counts()}", flush=True)
        for when in (as_of - dt.timedelta(days=1), as_of):
            started = time.perf_counter()
            snapshot = snapshot_take(cycle=cycle, as_of=when)
            print(
                f"  snapshot of {snapshot.total:,} accounts "
                f"in {time.perf_counter() - started:.1f} s"
            )

        target = TargetAccount.objects.filter(cycle=cycle).order_by("pk").first()
        dashboard = reverse("coverage:dashboard", args=[cycle.pk])
        table = reverse("coverage:accounts", args=[cycle.pk])
        pages = [
            ("dashboard (seller)", seller, dashboard),
            ("dashboard (ops)", ops, dashboard),
            ("table, first page (25 rows)", seller, table),
            ("table, gap missing_role and tier 1", seller, f"{table}?gap=missing_role&tier=1"),
            ("table, sorted by coverage, last page", seller, f"{table}?sort=-coverage&page=800"),
            ("table, needs my action", seller, f"{table}?action=me"),
            ("account page", seller, reverse("accounts_app:account", args=[target.account_id])),
            (
                "nomination page",
                seller,
                reverse("workflow:nomination", args=[target.nomination_id]),
            ),
        ]
        clients = {}
        for user in (seller, ops):
            clients[user.pk] = Client()
            clients[user.pk].force_login(user)

        print(f"\nMachine: {machine()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
        print("Load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

        cache.clear()
        started = time.perf_counter()
        assert clients[seller.pk].get(dashboard).status_code == 200
        first_view = (time.perf_counter() - started) * 1000
        print(f"\nFirst view of the snapshot's dashboard (renders its charts): {first_view:.0f} ms")
        print(f"\n| page ({args.accounts:,} target accounts) | median (ms) | p90 (ms) | queries |")
        print("|---|---|---|---|")
        for label, user, url in pages:
            median, p90, queries = timed(clients[user.pk], url, args.requests)
            print(f"| {label} | {median:.0f} | {p90:.0f} | {queries} |", flush=True)
        print("\nLoad average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
