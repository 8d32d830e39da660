#!/usr/bin/env python3
"""Benchmark: a coverage snapshot of a large cycle, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/coverage_snapshot.py [--accounts 20000] [--runs 3]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end)
   with one active cycle whose list holds --accounts target accounts, 10 contacts each (every
   contact with a buying role, one in five with two), 50 activities each (both sides, spread over
   the last 180 days, four in five linked to a contact) and 1.5 opportunities each (open, won
   or lost), written with INSERT … SELECT generate_series.
2. Takes the snapshot --runs times (`coverage.services.snapshot_take`, each in a fresh process
   so that its peak RSS is its own; the same `as_of`, so each replaces the one before), and
   once more under tracemalloc for the peak of Python allocations. Median time of the runs.
3. Runs one hand-written SQL query computing the buying-committee coverage of every account
   (the database's floor for one metric), median of --runs.
4. Reads GET /api/v1/cycles/{id}/coverage/accounts/ in process (Django's test client, an
   integration token, DEBUG off), median of 20 requests per query.
5. Doubles the data (as many accounts again, with their contacts, activities and deals, on the
   same list) and takes the snapshot --runs times again.

Targets (issue "Coverage and alignment", item 9): a snapshot of 20,000 accounts in under 10 s,
peak memory under 500 MB, twice the data in at most 2.2 × the time, within 2 × the hand-written
query.
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
os.environ.setdefault("API_THROTTLE_USER", "1000000/min")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")  # no line per request of the latency runs

from bench.common import machine, put_on_list  # noqa: E402

CONTACTS_PER_ACCOUNT = 10
ACTIVITIES_PER_ACCOUNT = 50
OPPORTUNITIES_PER_TWO_ACCOUNTS = 3
ROLES = [
    "decision_maker",
    "champion",
    "budget_holder",
    "influencer",
    "end_user",
    "executive_sponsor",
    "blocker",
    "legal_and_compliance",
]
REQUIRED = {1: ROLES[:4], 2: ROLES[:2], 3: []}

FLOOR_SQL = """
SELECT t.account_id,
       CASE
         WHEN jsonb_array_length(tier.required_roles) = 0 THEN
           CASE WHEN EXISTS (SELECT 1 FROM accounts_app_contact c WHERE c.account_id = t.account_id)
                THEN 1.0 ELSE 0.0 END
         ELSE (
           SELECT count(*) FROM jsonb_array_elements_text(tier.required_roles) AS r(role)
           WHERE EXISTS (
             SELECT 1 FROM accounts_app_contactrole cr
             JOIN accounts_app_contact c ON c.id = cr.contact_id
             WHERE c.account_id = t.account_id AND cr.role = r.role)
         )::float / jsonb_array_length(tier.required_roles)
       END AS coverage
FROM workflow_targetaccount t
JOIN workflow_tier tier ON tier.cycle_id = t.cycle_id AND tier.number = t.tier
WHERE t.cycle_id = %s AND t.removed_at IS NULL
"""


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def child(cycle_id: int, as_of: str, trace: bool) -> None:
    """One snapshot in this process; prints a JSON line of what it cost."""
    import django

    django.setup()
    import tracemalloc

    from django.utils.dateparse import parse_datetime

    from coverage.services import snapshot_take
    from workflow.models import Cycle

    cycle = Cycle.objects.get(pk=cycle_id)
    before = _rss_mb()
    if trace:
        tracemalloc.start()
    started = time.perf_counter()
    snapshot = snapshot_take(cycle=cycle, as_of=parse_datetime(as_of))
    seconds = time.perf_counter() - started
    peak_traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else None
    print(
        json.dumps(
            {
                "seconds": seconds,
                "accounts": snapshot.total,
                "rss_before_mb": before,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "peak_traced_mb": peak_traced,
            }
        )
    )


def _insert_select(model, values: dict[str, str], source: str, params=()) -> int:
    """INSERT INTO model's table (every concrete column) SELECT the given SQL expressions FROM
    source; columns not given get '' (text) or NULL, so this keeps working when a model gains
    or loses a blank or nullable field."""
    from django.db import connection, models

    columns, exprs = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        if field.column in values:
            expr = values[field.column]
        elif field.null:
            expr = "NULL"
        elif isinstance(field, models.CharField | models.TextField):
            expr = "''"
        else:
            raise ValueError(f"say what {model.__name__}.{field.name} holds")
        columns.append(f'"{field.column}"')
        exprs.append(expr)
    sql = (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(exprs)} FROM {source}"
    )
    # The expressions use SQL's % (modulo); only %s is a placeholder.
    sql = sql.replace("%", "%%").replace("%%s", "%s")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def populate(*, cycle, marketer, seller, accounts: int, offset: int, as_of) -> None:
    """`accounts` more accounts on the cycle's list, with their contacts, roles, activities and
    opportunities, numbered from `offset`."""
    from django.db import connection

    from accounts_app.models import Account, Activity, Contact, ContactRole, Opportunity

    first, last = offset, offset + accounts - 1
    _insert_select(
        Account,
        {
            "key": "gen_random_uuid()",
            "name": "'Company ' || lpad(i::text, 6, '0')",
            "domain": "'company' || i || '.example'",
            "industry": "'Software'",
            "country": "'DE'",
            "region": "'EMEA'",
            "source": "'manual'",
            "created_at": "now()",
            "updated_at": "now()",
            "sales_owner_id": str(seller.pk),
            "marketing_owner_id": f"CASE WHEN i % 10 = 0 THEN NULL ELSE {marketer.pk} END",
        },
        "generate_series(%s, %s) AS i",
        (first, last),
    )
    new_accounts = list(
        Account.objects.filter(domain__regex=r"^company[0-9]+\.example$")
        .exclude(targets__cycle=cycle)
        .order_by("pk")
    )
    put_on_list(
        cycle=cycle, accounts=new_accounts, marketer=marketer, seller=seller, batch_size=5000
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_acc")
        cursor.execute(
            "CREATE TEMP TABLE bench_acc AS SELECT id, row_number() OVER (ORDER BY id) - 1 AS rn "
            "FROM accounts_app_account WHERE id = ANY(%s)",
            ([a.pk for a in new_accounts],),
        )
        cursor.execute("CREATE INDEX ON bench_acc (rn)")
    n = len(new_accounts)
    _insert_select(
        Contact,
        {
            "account_id": "a.id",
            "first_name": "'Ada'",
            "last_name": "'Contact ' || k",
            "email": "'p' || k || '@company' || a.rn || '-' || a.id || '.example'",
            "last_engaged_at": "CASE WHEN (a.id + k) % 4 = 0 "
            "THEN %s::timestamptz - ((a.id + k) % 60) * interval '1 day' END",
            "created_at": "now()",
            "updated_at": "now()",
        },
        f"bench_acc a CROSS JOIN generate_series(0, {CONTACTS_PER_ACCOUNT - 1}) AS k",
        (as_of,),
    )
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_con")
        cursor.execute(
            "CREATE TEMP TABLE bench_con AS SELECT c.id, a.rn, "
            "row_number() OVER (PARTITION BY c.account_id ORDER BY c.id) - 1 AS k "
            "FROM accounts_app_contact c JOIN bench_acc a ON a.id = c.account_id"
        )
        cursor.execute("CREATE INDEX ON bench_con (rn, k)")
    roles = "ARRAY[" + ", ".join(f"'{r}'" for r in ROLES) + "]"
    _insert_select(
        ContactRole, {"contact_id": "c.id", "role": f"({roles})[1 + c.id % 8]"}, "bench_con c"
    )
    _insert_select(
        ContactRole,
        {"contact_id": "c.id", "role": f"({roles})[1 + (c.id + 3) % 8]"},
        "bench_con c WHERE c.id % 5 = 0",
    )
    kinds = "ARRAY['email', 'meeting', 'call', 'web_visit', 'ad_click', 'event', 'form_fill']"
    _insert_select(
        Activity,
        {
            "account_id": "a.id",
            "contact_id": "CASE WHEN i % 5 <> 0 THEN c.id END",
            "kind": f"({kinds})[1 + i % 7]",
            "side": "CASE WHEN (i / 7) % 2 = 0 THEN 'marketing' ELSE 'sales' END",
            "occurred_at": "%s::timestamptz "
            "- ((i::bigint * 7919) % (180 * 24)) * interval '1 hour'",
        },
        f"generate_series(0, {n * ACTIVITIES_PER_ACCOUNT - 1}) AS i "
        f"JOIN bench_acc a ON a.rn = i % {n} "
        f"JOIN bench_con c ON c.rn = a.rn AND c.k = (i / {n}) % {CONTACTS_PER_ACCOUNT}",
        (as_of,),
    )
    _insert_select(
        Opportunity,
        {
            "account_id": "a.id",
            "name": "'Deal ' || i",
            "stage": "'proposal'",
            "amount": "1000 + (i % 50) * 100",
            "currency": "'USD'",
            "status": "(ARRAY['open', 'won', 'lost'])[1 + i % 3]",
            "created_at": "now()",
            "updated_at": "now()",
        },
        f"generate_series(0, {n * OPPORTUNITIES_PER_TWO_ACCOUNTS // 2 - 1}) AS i "
        f"JOIN bench_acc a ON a.rn = (i * 7) % {n}",
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def counts() -> dict:
    from accounts_app.models import Activity, Contact, ContactRole, Opportunity
    from workflow.models import TargetAccount

    return {
        "target accounts": TargetAccount.objects.count(),
        "contacts": Contact.objects.count(),
        "contact roles": ContactRole.objects.count(),
        "activities": Activity.objects.count(),
        "opportunities": Opportunity.objects.count(),
    }


def snapshots(database_url: str, cycle_id: int, as_of: str, runs: int) -> list[dict]:
    env = {**os.environ, "DATABASE_URL": database_url}
    results = []
    for trace in [False] * runs + [True]:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(cycle_id), "--as-of", as_of]
            + (["--trace"] if trace else []),
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        result["trace"] = trace
        results.append(result)
        label = "tracemalloc" if trace else "run"
        print(
            f"  {label}: {result['accounts']:,} accounts in {result['seconds']:.2f} s, "
            f"peak RSS {result['peak_rss_mb']:.0f} MB"
            + (f", traced peak {result['peak_traced_mb']:.1f} MB" if trace else ""),
            flush=True,
        )
    return results


def floor(cycle_id: int, runs: int) -> float:
    from django.db import connection

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(FLOOR_SQL, [cycle_id])
            rows = cursor.fetchall()
        times.append(time.perf_counter() - started)
    seconds = statistics.median(times)
    print(f"  hand-written coverage query: {len(rows):,} rows, median {seconds:.2f} s")
    return statistics.median(times)


def api_latency(cycle_id: int, token: str) -> dict:
    from rest_framework.test import APIClient

    client = APIClient(SERVER_NAME="127.0.0.1")
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    url = f"/api/v1/cycles/{cycle_id}/coverage/accounts/"
    results = {}
    last_page = -(-client.get(url).json()["count"] // 100)
    for query in ("", "?page_size=1000", "?gap=missing_role&tier=1", f"?page={last_page}"):
        client.get(url + query)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            response = client.get(url + query)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, response.content[:300]
        results[f"coverage/accounts/{query or ' (first page, 100 rows)'}"] = statistics.median(
            times
        )
    summary = client.get(f"/api/v1/cycles/{cycle_id}/coverage/")
    assert summary.status_code == 200
    times = []
    for _ in range(20):
        started = time.perf_counter()
        client.get(f"/api/v1/cycles/{cycle_id}/coverage/")
        times.append((time.perf_counter() - started) * 1000)
    results["coverage/ (the aggregates)"] = statistics.median(times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.as_of, args.trace)
        return

    import django

    django.setup()
    import datetime as dt

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases
    from django.utils import timezone

    from api.services import service_account_create
    from workflow.models import Cycle, CycleState, Tier

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL.")
    print(f"Creating a throw-away database with {args.accounts:,} target accounts …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        User = get_user_model()
        marketer = User.objects.create(username="bench-marketer", email="m@example.com")
        seller = User.objects.create(username="bench-seller", email="s@example.com")
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
        # Late enough that every entry, added while loading, is on the list at as_of.
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
        print(f"  loaded in {time.perf_counter() - started:.0f} s: {counts()}", flush=True)
        settings_dict = connection.settings_dict
        database_url = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
            f"{settings_dict['NAME']}"
        )
        _, token = service_account_create(username="bench-crm")

        print(f"\nMachine: {machine()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
        print("Load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        print(f"\nSnapshot of {args.accounts:,} target accounts:", flush=True)
        once = snapshots(database_url, cycle.pk, as_of.isoformat(), args.runs)
        floor_seconds = floor(cycle.pk, args.runs)
        latency = api_latency(cycle.pk, token)
        for query, ms in latency.items():
            print(f"  GET /api/v1/cycles/{{id}}/{query}: median {ms:.1f} ms")

        started = time.perf_counter()
        populate(
            cycle=cycle,
            marketer=marketer,
            seller=seller,
            accounts=args.accounts,
            offset=args.accounts,
            as_of=as_of,
        )
        print(f"\nTwice the data, loaded in {time.perf_counter() - started:.0f} s: {counts()}")
        print(f"Snapshot of {2 * args.accounts:,} target accounts:", flush=True)
        twice = snapshots(database_url, cycle.pk, as_of.isoformat(), args.runs)
        floor_twice = floor(cycle.pk, args.runs)
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))

        def median(results):
            return statistics.median(r["seconds"] for r in results if not r["trace"])

        def peak(results, key):
            return max(r[key] or 0 for r in results)

        m1, m2 = median(once), median(twice)
        print(
            "\n| accounts | snapshot, median (s) | peak RSS (MB) | traced peak (MB) | "
            "hand-written coverage query (s) | snapshot ÷ query |"
        )
        print("|---|---|---|---|---|---|")
        for n, m, results, floor_s in (
            (args.accounts, m1, once, floor_seconds),
            (2 * args.accounts, m2, twice, floor_twice),
        ):
            print(
                f"| {n:,} | {m:.2f} | {peak(results, 'peak_rss_mb'):.0f} | "
                f"{peak(results, 'peak_traced_mb'):.0f} | {floor_s:.2f} | {m / floor_s:.1f} × |"
            )
        print(f"\nTwice the data: {m2 / m1:.2f} × the time.")
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
