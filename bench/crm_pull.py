#!/usr/bin/env python3
"""Benchmark: pulling contacts from the HubSpot sandbox into Accord.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/crm_pull.py [--sizes 10000,50000] [--runs 3] [--companies 500]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end).
2. Starts the HubSpot sandbox in its own process on a free loopback port, so that its memory and
   CPU are not counted as the pull's, with HubSpot's limits (100 requests per 10 s, 5 searches a
   second; --search-rate-limit 0 and --rate-limit 0 lift them to see what the pull itself costs).
3. For each size: seeds --companies companies and that many contacts (each with a buying role,
   associated round-robin with the companies), then --runs times: empties Accord, and pulls
   companies and contacts over HTTP (crm.pull.services.pull, as `manage.py crm_pull` does):
   records per second, and the process's peak resident memory during the pull (sampled every
   20 ms from /proc) and how much it grew during the pull. One more pull runs under tracemalloc
   for the peak of Python's own heap.

Target (issue 4): memory flat in the number of records, under 300 MB.
"""

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from bench.common import machine  # noqa: E402

TOKEN = "bench-token"
PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class PeakRss:
    """The highest resident set size seen while the block runs (sampled every 20 ms)."""

    def __enter__(self):
        self.before = self.peak = rss_mb()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss_mb())
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb())


def start_sandbox(rate_limit: int, search_rate_limit: int) -> tuple[subprocess.Popen, str]:
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
        str(rate_limit or 10_000_000),
        "--search-rate-limit",
        str(search_rate_limit or 10_000_000),
    ]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    first = process.stdout.readline().strip()
    if "listening on" not in first:
        process.kill()
        raise SystemExit(f"the sandbox did not start: {first!r}")
    return process, first.rsplit(" ", 1)[-1]


def hook(url: str, path: str, body=None):
    import httpx

    response = httpx.post(f"{url}/__sandbox__/{path}", json=body, timeout=120)
    response.raise_for_status()
    return response.json()


def empty_accord() -> None:
    """Back to an empty Accord, in SQL: deleting through the ORM would load every row into this
    process and raise the memory the next pull is measured against."""
    from django.db import connection

    tables = [
        "accounts_app_activity",
        "accounts_app_opportunity",
        "accounts_app_contact",
        "crm_syncrunerror",
        "crm_pullcursor",
        "crm_syncrun",
        "accounts_app_account",
    ]
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table}")


def one_pull(expected: int) -> tuple[float, int]:
    from accounts_app.models import Contact
    from crm.pull import services

    started = time.perf_counter()
    run = services.pull(trigger="command", object_types=["companies", "contacts"])
    seconds = time.perf_counter() - started
    assert run.state == "succeeded", (run.state, run.message)
    assert Contact.objects.count() == expected, Contact.objects.count()
    return seconds, run.done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000", help="contacts, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--companies", type=int, default=500)
    parser.add_argument("--rate-limit", type=int, default=100, help="per 10 s; 0: none")
    parser.add_argument("--search-rate-limit", type=int, default=5, help="per second; 0: none")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.conf import settings

    django.setup()
    settings.DEBUG = False
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    sandbox, url = start_sandbox(args.rate_limit, args.search_rate_limit)
    settings.CRM_BACKEND = "hubspot"
    settings.HUBSPOT_BASE_URL = url
    settings.HUBSPOT_ACCESS_TOKEN = TOKEN
    settings.CRM_RATE_LIMIT_REDIS_URL = ""
    settings.HUBSPOT_RATE_LIMIT = args.rate_limit or 10_000_000
    settings.HUBSPOT_SEARCH_RATE_LIMIT = args.search_rate_limit or 10_000_000
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        print(f"Machine: {machine()}")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SHOW server_version")
                print(f"Database: PostgreSQL {cursor.fetchone()[0]}")
        else:
            print(f"Database: {connection.vendor}")
        limits = (
            f"{args.rate_limit or 'no'} requests per 10 s, "
            f"{args.search_rate_limit or 'no'} searches per second"
        )
        print(f"HubSpot sandbox (own process), limits: {limits}")
        print("Load average before: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()))
        print(
            "| contacts | records/s (median) | records/s (best) | seconds (median) "
            "| peak RSS, MB (max) | RSS growth during the pull, MB (max) | Python heap peak, MB |"
        )
        print("|---|---|---|---|---|---|---|")
        for size in sizes:
            hook(url, "reset")
            hook(url, "seed", {"companies": args.companies, "contacts": size})
            rates, times, peaks, growth = [], [], [], []
            for _ in range(args.runs):
                empty_accord()
                gc.collect()
                with PeakRss() as rss:
                    seconds, done = one_pull(size)
                rates.append(done / seconds)
                times.append(seconds)
                peaks.append(rss.peak)
                growth.append(rss.peak - rss.before)
            empty_accord()
            gc.collect()
            tracemalloc.start()
            one_pull(size)
            _, heap_peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"| {size:,} | {statistics.median(rates):,.0f} | {max(rates):,.0f} | "
                f"{statistics.median(times):.1f} | {max(peaks):.0f} | {max(growth):.0f} | "
                f"{heap_peak / 2**20:.1f} |",
                flush=True,
            )
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"\nThe process's highest RSS over the whole benchmark: {maxrss:.0f} MB")
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
