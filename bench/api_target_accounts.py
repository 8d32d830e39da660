#!/usr/bin/env python3
"""Benchmark: a CRM-side job reading a cycle's agreed list through the REST API.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/api_target_accounts.py [--entries 10000] [--runs 5]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end)
   holding one cycle whose agreed list has --entries target accounts, each with its account and
   two owners (bulk inserts: this measures reads, not the workflow).
2. Serves the project with gunicorn on a free loopback port (2 sync workers, DEBUG off).
3. With an integration token, over real HTTP, reads the whole list page by page, for the
   default page size (500) and the largest (1,000): records per second, best and median of
   --runs passes.
4. Sends If-None-Match with the ETag of the first page: the time of a 304, median of 50.

Targets (issue 3): at least 5,000 records/s on PostgreSQL, a 304 in under 20 ms.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.common import machine, put_on_list  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def populate(entries: int):
    """One cycle with `entries` target accounts; returns (cycle id, integration token)."""
    import datetime as dt

    from django.contrib.auth import get_user_model

    from accounts_app.models import Account
    from api.services import service_account_create
    from workflow.models import Cycle, CycleState, Tier

    User = get_user_model()
    marketer = User.objects.create(username="bench-marketer", email="m@example.com")
    seller = User.objects.create(username="bench-seller", email="s@example.com")
    cycle = Cycle.objects.create(
        name="Bench",
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 6, 30),
        state=CycleState.ACTIVE,
    )
    Tier.objects.bulk_create(Tier(cycle=cycle, number=n, capacity=entries) for n in (1, 2, 3))
    accounts = Account.objects.bulk_create(
        (
            Account(
                name=f"Company {i:05d}",
                domain=f"company{i:05d}.example",
                industry="Software",
                employee_count=100 + i,
                country="DE",
                region="EMEA",
                hubspot_company_id=str(100000 + i),
                sales_owner=seller,
                marketing_owner=marketer,
                fit_score=i % 101,
            )
            for i in range(entries)
        ),
        batch_size=2000,
    )
    put_on_list(cycle=cycle, accounts=accounts, marketer=marketer, seller=seller, batch_size=2000)
    _, token = service_account_create(username="bench-crm")
    return cycle.pk, token


def read_all(client, url: str, page_size: int) -> tuple[int, float]:
    started = time.perf_counter()
    records, next_url = 0, f"{url}?page_size={page_size}"
    while next_url:
        response = client.get(next_url)
        response.raise_for_status()
        body = response.json()
        records += len(body["results"])
        next_url = body["next"]
    return records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    import httpx

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    if connection.vendor != "postgresql":
        print("warning: DATABASE_URL is not PostgreSQL; the targets are for PostgreSQL.")
    print(f"Creating a throw-away database with {args.entries:,} target accounts …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    server = None
    try:
        cycle_id, token = populate(args.entries)
        settings_dict = connection.settings_dict
        database_url = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/"
            f"{settings_dict['NAME']}"
            if connection.vendor == "postgresql"
            else f"sqlite:///{settings_dict['NAME']}"
        )
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "API_THROTTLE_USER": "1000000/min",
            "LOG_LEVEL": "WARNING",
        }
        server = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "config.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/api/v1/cycles/{cycle_id}/target-accounts/"
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(headers=headers, timeout=60) as client:
            for _ in range(100):
                try:
                    if client.get(f"{base}/api/v1/me/").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                raise SystemExit("gunicorn did not start")
            read_all(client, url, 1000)  # warm up both workers' connections and caches

            print(f"\nMachine: {machine()}")
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("SHOW server_version")
                    print(f"PostgreSQL {cursor.fetchone()[0]}")
            print(f"Agreed list: {args.entries:,} target accounts; gunicorn, 2 sync workers")
            print("Load average before: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()))
            print("| page size | requests | records/s (best) | records/s (median) |")
            print("|---|---|---|---|")
            for page_size in (500, 1000):
                rates = []
                for _ in range(args.runs):
                    records, seconds = read_all(client, url, page_size)
                    assert records == args.entries, records
                    rates.append(records / seconds)
                pages = -(-args.entries // page_size)
                print(
                    f"| {page_size} | {pages} | {max(rates):,.0f} | "
                    f"{statistics.median(rates):,.0f} |"
                )

            first = client.get(url)
            etag = first.headers["ETag"]
            times = []
            for _ in range(50):
                started = time.perf_counter()
                response = client.get(url, headers={"If-None-Match": etag})
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 304, response.status_code
            times.sort()
            print(
                f"\n304 Not Modified (first page, matching ETag), 50 requests: "
                f"median {statistics.median(times):.1f} ms, "
                f"p90 {times[int(len(times) * 0.9)]:.1f} ms, best {times[0]:.1f} ms"
            )
            print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
