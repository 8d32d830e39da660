#!/usr/bin/env python3
"""Benchmark: pushing 50,000 target accounts to the HubSpot sandbox at 190 requests per 10 s.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_crm_bench \\
        .venv/bin/python bench/crm_push.py [--accounts 50000] [--runs 3] [--concurrency 2]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end)
   holding one active cycle whose list has --accounts target accounts (bulk inserts), with a
   sales owner whose HubSpot owner id is known.
2. Starts the HubSpot sandbox in its own process on a free loopback port, limited like a
   Professional portal: 190 requests in any 10 s (--rate-limit), 5 searches a second.
3. --runs times: empties the sandbox and Accord's sync state, creates the key property
   (`crm_setup`), waits for the sandbox's 10 s window to empty, then queues the whole list
   (`outbox.record_cycle`) and pushes it (`crm.services.outbox_push`, as `manage.py crm_push
   --cycle` does) with --concurrency threads sharing one token bucket. It checks that the CRM
   ends up with every account exactly once and counts the requests the sandbox refused.
   Then it pushes the unchanged list again and counts the write requests that made.

The floor: 50,000 accounts in batches of 100 are 500 batch requests; at 19 a second (190 per
10 s) that is 26.3 s. Targets (issue 4): within 1.15 × the floor (30.3 s), no refused request
left unretried, and a repeat push with nothing changed making no write request.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.common import machine, put_on_list  # noqa: E402

TOKEN = "bench-token"
OWNER_ID = "101"  # one of the sandbox's default owners


def start_sandbox(rate_limit: int) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        "-m",
        "crm.sandbox",
        "--kind",
        "hubspot",
        "--port",
        "0",
        "--token",
        TOKEN,
        "--rate-limit",
        str(rate_limit),
        "--rate-window-seconds",
        "10",
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    first = process.stdout.readline().strip()
    if "listening on" not in first:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    return process, first.rsplit(" ", 1)[-1]


def hook(url: str, method: str, path: str, body=None):
    import httpx

    response = httpx.request(method, f"{url}/__sandbox__/{path}", json=body, timeout=300)
    response.raise_for_status()
    return response.json()


def populate(count: int):
    """One active cycle with `count` target accounts; returns the cycle."""
    import datetime as dt

    from django.contrib.auth import get_user_model

    from accounts_app.models import Account
    from crm.models import CrmOwner
    from workflow.models import Cycle, CycleState, Tier

    User = get_user_model()
    marketer = User.objects.create(username="bench-marketer", email="m@example.com")
    seller = User.objects.create(username="bench-seller", email="s@example.com")
    CrmOwner.objects.create(user=seller, hubspot_owner_id=OWNER_ID)
    cycle = Cycle.objects.create(
        name="Bench",
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 6, 30),
        state=CycleState.ACTIVE,
    )
    Tier.objects.bulk_create(Tier(cycle=cycle, number=n, capacity=count) for n in (1, 2, 3))
    accounts = Account.objects.bulk_create(
        (
            Account(name=f"Company {i:05d}", domain=f"company{i:05d}.example", industry="Software")
            for i in range(count)
        ),
        batch_size=5000,
    )
    put_on_list(cycle=cycle, accounts=accounts, marketer=marketer, seller=seller, batch_size=5000)
    return cycle


def forget_sync_state() -> None:
    """As if Accord had never pushed: no outbox, no runs, no digests, no company ids."""
    from accounts_app.models import Account
    from crm.models import DeliveredPayload, OutboxEntry, SyncRun

    OutboxEntry.objects.all().delete()
    SyncRun.objects.all().delete()
    DeliveredPayload.objects.all().delete()
    Account.objects.exclude(hubspot_company_id="").update(hubspot_company_id="")


def check_crm(url: str, count: int) -> None:
    companies = hook(url, "GET", "objects/companies")["results"]
    keys = [c["properties"].get("accord_account_key") for c in companies]
    assert len(companies) == count, f"{len(companies)} companies in the CRM, expected {count}"
    assert len(set(keys)) == count and None not in keys, "an account is missing or duplicated"
    flagged = {c["properties"].get("hs_is_target_account") for c in companies}
    owners = {c["properties"].get("hubspot_owner_id") for c in companies}
    assert flagged == {"true"} and owners == {OWNER_ID}, (flagged, owners)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--rate-limit", type=int, default=190, help="requests per 10 s")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from crm import outbox, services
    from crm.adapters import get_adapter

    if connection.vendor != "postgresql":
        print("warning: DATABASE_URL is not PostgreSQL; concurrency is set to 1 on SQLite.")
        args.concurrency = 1
    sandbox, url = start_sandbox(args.rate_limit)
    settings.CRM_BACKEND = "hubspot"
    settings.HUBSPOT_BASE_URL = url
    settings.HUBSPOT_ACCESS_TOKEN = TOKEN
    settings.HUBSPOT_RATE_LIMIT = args.rate_limit
    settings.CRM_RATE_LIMIT_REDIS_URL = ""  # the threads of this process share one bucket
    print(f"Creating a throw-away database with {args.accounts:,} target accounts …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    results = []
    try:
        cycle = populate(args.accounts)
        batches = -(-args.accounts // 100)
        floor = batches / (args.rate_limit / 10)
        print(f"\nMachine: {machine()}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                print(f"PostgreSQL {cursor.fetchone()[0]}")
        print(
            f"{args.accounts:,} target accounts, {batches} batch requests; sandbox limit "
            f"{args.rate_limit} per 10 s; floor {floor:.1f} s, target {1.15 * floor:.1f} s; "
            f"{args.concurrency} push thread(s)"
        )
        print("Load average before: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()))
        print(
            "| run | queue (s) | push (s) | requests | write requests | refused (429) | "
            "retried | repeat push: writes | repeat push (s) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for number in range(1, args.runs + 1):
            hook(url, "POST", "reset")
            forget_sync_state()
            adapter = get_adapter("hubspot")
            adapter.ensure_properties()
            adapter.close()
            time.sleep(10.5)  # the sandbox's rolling window forgets the setup requests
            hook(url, "POST", "counters/reset")

            started = time.perf_counter()
            outbox.record_cycle(cycle_id=cycle.pk)
            queued = time.perf_counter()
            run = services.outbox_push(trigger="command", concurrency=args.concurrency)
            pushed = time.perf_counter()
            counters = hook(url, "GET", "counters")
            check_crm(url, args.accounts)
            assert run.state == "succeeded", (run.state, run.message)

            outbox.record_cycle(cycle_id=cycle.pk)
            again_started = time.perf_counter()
            again = services.outbox_push(trigger="command", concurrency=args.concurrency)
            again_seconds = time.perf_counter() - again_started
            repeat_writes = (
                hook(url, "GET", "counters")["write_requests"] - counters["write_requests"]
            )
            assert again.unchanged == args.accounts, again.unchanged
            result = {
                "queue": queued - started,
                "push": pushed - queued,
                "requests": counters["requests"],
                "writes": counters["write_requests"],
                "refused": counters["rate_limited"],
                "retried": run.detail["retries"],
                "repeat_writes": repeat_writes,
                "repeat": again_seconds,
            }
            results.append(result)
            print(
                f"| {number} | {result['queue']:.1f} | {result['push']:.1f} | "
                f"{result['requests']} | {result['writes']} | {result['refused']} | "
                f"{result['retried']} | {result['repeat_writes']} | {result['repeat']:.1f} |",
                flush=True,
            )
        median = statistics.median(r["push"] for r in results)
        print(
            f"\nPush, median of {len(results)}: {median:.1f} s = {median / floor:.3f} × the floor "
            f"({floor:.1f} s); target ≤ 1.15 ×: {'met' if median <= 1.15 * floor else 'MISSED'}"
        )
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
