#!/usr/bin/env python3
"""Benchmark: the per-account coverage CSV export of a large snapshot, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/coverage_exports.py [--rows 50000] [--runs 3]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end)
   with one active cycle whose list holds --rows target accounts (bulk inserts, bench.common),
   and one finished snapshot of them: --rows AccountCoverage rows written with bulk_create
   (roles, touches, amounts and gaps varied; one in ten without a marketing owner).
2. Downloads GET /cycles/{id}/export/coverage-accounts.csv --runs times, each in a fresh
   process (Django's test client, signed in as ops, DEBUG off), reading the streamed body to
   the end. Each run reports rows per second (and per CPU second of its process, which the
   machine's load does not change), and the process's RSS after the first 10,000 rows, after
   the last, and the highest seen while streaming: memory that does not grow with the rows
   stays flat.
3. The same for the agreed list (/cycles/{id}/export/agreed-list.csv) and, for the filters'
   cost, the per-account export filtered to one tier.

Target (issue "Coverage and alignment", item 9): at least 20,000 rows/s at 50,000 rows, with
memory flat between 10,000 and 50,000 rows.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")

from bench.common import machine, put_on_list  # noqa: E402

ROLES = ["decision_maker", "champion", "budget_holder", "influencer"]
CHECKPOINT = 10_000


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(path: str, username: str) -> None:
    """One download in this process; prints a JSON line of what it cost."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    # The session, the middleware and the templates' first use, outside the measurement (a page
    # that does not exist: cheap, whatever the data).
    client.get("/warm-up/")
    before = _rss_mb()
    started = time.perf_counter()
    cpu = time.process_time()
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    lines = 0
    size = 0
    at_checkpoint = None
    highest = before
    for piece in response.streaming_content:
        lines += piece.count(b"\r\n")
        size += len(piece)
        if at_checkpoint is None and lines - 1 >= CHECKPOINT:
            at_checkpoint = _rss_mb()
        highest = max(highest, _rss_mb())
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    print(
        json.dumps(
            {
                "rows": lines - 1,
                "bytes": size,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "rss_before_mb": before,
                "rss_at_10000_mb": at_checkpoint,
                "rss_at_end_mb": _rss_mb(),
                "highest_rss_mb": highest,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def populate(*, rows: int):
    """A cycle with `rows` target accounts and one done snapshot of them. Returns the cycle."""
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.utils import timezone

    from accounts_app.models import Account
    from coverage.models import AccountCoverage, Snapshot, SnapshotState, Stage
    from coverage.selectors import definitions_effective
    from workflow.models import Cycle, CycleState, TargetAccount, Tier

    User = get_user_model()
    marketer = User.objects.create(username="bench-marketer", email="m@example.com")
    seller = User.objects.create(username="bench-seller", email="s@example.com")
    ops = User.objects.create(username="bench-ops", email="o@example.com")
    for user, group in ((marketer, "marketing"), (seller, "sales"), (ops, "ops")):
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    cycle = Cycle.objects.create(
        name="Bench FY27",
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 12, 31),
        state=CycleState.ACTIVE,
    )
    Tier.objects.bulk_create(
        Tier(cycle=cycle, number=n, capacity=rows, required_roles=ROLES[: 4 - n]) for n in (1, 2, 3)
    )
    accounts = Account.objects.bulk_create(
        (
            Account(
                name=f"Company {i:06d}",
                domain=f"company{i}.example",
                industry="Software",
                country="DE",
                region="EMEA",
                sales_owner=seller,
                marketing_owner=None if i % 10 == 0 else marketer,
            )
            for i in range(rows)
        ),
        batch_size=5000,
    )
    put_on_list(cycle=cycle, accounts=accounts, marketer=marketer, seller=seller, batch_size=5000)
    now = timezone.now()
    version = definitions_effective()
    snapshot = Snapshot.objects.create(
        cycle=cycle,
        taken_on=timezone.localdate(now),
        as_of=now,
        definitions_version=version,
        settings=version.settings,
        state=SnapshotState.DONE,
        total=rows,
        done=rows,
        finished_at=now,
    )
    stages = list(Stage.values)
    targets = TargetAccount.objects.filter(cycle=cycle).order_by("tier", "account__name", "pk")

    def row(position: int, target) -> AccountCoverage:
        required = ROLES[: 4 - target.tier]
        covered = required[: position % (len(required) + 1)]
        i = target.account_id
        return AccountCoverage(
            snapshot=snapshot,
            target_id=target.pk,
            account_id=target.account_id,
            position=position,
            tier=target.tier,
            sales_owner_id=seller.pk,
            marketing_owner_id=None if i % 10 == 0 else marketer.pk,
            required_roles=required,
            covered_roles=covered,
            missing_roles=required[len(covered) :],
            coverage=len(covered) / len(required) if required else 1.0,
            contacts=i % 12,
            engaged_contacts=i % 4,
            marketing_touches_30d=i % 9,
            sales_touches_30d=i % 5,
            marketing_touches_90d=i % 27,
            sales_touches_90d=i % 15,
            open_opportunities=i % 3,
            open_pipeline=(i % 50) * 1000,
            won_amount=(i % 7) * 2500,
            stage=stages[i % len(stages)],
            stage_since=now.date(),
            first_stage=stages[0],
            gap_missing_role=len(covered) < len(required),
            gap_single_threaded=i % 4 == 1,
            gap_gone_cold=i % 11 == 0,
            gap_no_marketing_owner=i % 10 == 0,
        )

    batch = []
    for position, target in enumerate(
        targets.only("pk", "account_id", "tier").iterator(chunk_size=5000)
    ):
        batch.append(row(position, target))
        if len(batch) == 5000:
            AccountCoverage.objects.bulk_create(batch)
            batch = []
    AccountCoverage.objects.bulk_create(batch)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return cycle, ops


def downloads(database_url: str, path: str, username: str, runs: int) -> list[dict]:
    env = {**os.environ, "DATABASE_URL": database_url}
    results = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, __file__, "--child", path, "--user", username],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        print(
            f"  {result['rows']:,} rows, {result['bytes'] / 2**20:.1f} MB in "
            f"{result['seconds']:.2f} s = {result['rows'] / result['seconds']:,.0f} rows/s "
            f"({result['rows'] / result['cpu_seconds']:,.0f} per CPU second); RSS "
            f"{result['rss_before_mb']:.0f} MB before, {result['rss_at_10000_mb'] or 0:.0f} MB at "
            f"10,000 rows, {result['rss_at_end_mb']:.0f} MB at the end, highest while streaming "
            f"{result['highest_rss_mb']:.0f} MB, process peak {result['peak_rss_mb']:.0f} MB",
            flush=True,
        )
    return results


def summary(label: str, results: list[dict]) -> str:
    rates = [r["rows"] / r["seconds"] for r in results]
    return (
        f"| {label} | {results[0]['rows']:,} | {statistics.median(rates):,.0f} | "
        f"{statistics.median(r['rows'] / r['cpu_seconds'] for r in results):,.0f} | "
        f"{statistics.median(r['rss_at_10000_mb'] or 0 for r in results):.0f} | "
        f"{statistics.median(r['rss_at_end_mb'] for r in results):.0f} | "
        f"{max(r['highest_rss_mb'] for r in results):.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--user", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.user)
        return

    import django

    django.setup()
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from django.urls import reverse

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL.")
    print(f"Creating a throw-away database with {args.rows:,} coverage rows …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        started = time.perf_counter()
        cycle, ops = populate(rows=args.rows)
        print(f"  loaded in {time.perf_counter() - started:.0f} s", flush=True)
        s = connection.settings_dict
        database_url = f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
        print(f"\nMachine: {machine()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
        print("Load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        accounts = reverse("coverage_exports:coverage_accounts", args=[cycle.pk])
        listing = reverse("coverage_exports:agreed_list", args=[cycle.pk])
        table = []
        for label, path in (
            ("coverage per account", accounts),
            ("coverage per account, tier=1", accounts + "?tier=1"),
            ("agreed list", listing),
        ):
            print(f"\n{label}: GET {path}", flush=True)
            table.append(summary(label, downloads(database_url, path, ops.username, args.runs)))
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(
            f"\n| export | rows | rows/s, median of {args.runs} | rows per CPU second | "
            "RSS at 10,000 rows (MB) | RSS at the end (MB) | highest RSS while streaming (MB) |"
        )
        print("|---|---|---|---|---|---|---|")
        print("\n".join(table))
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
