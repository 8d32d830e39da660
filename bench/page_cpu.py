#!/usr/bin/env python3
"""Benchmark: the worker CPU each page of the load run's mix costs, and where it goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_bench \\
        .venv/bin/python bench/page_cpu.py [--people 400] [--runs 3] [--profile PAGE]

1. Creates a throw-away database (test_<name>, dropped at the end) with the load run's data set
   (bench/load/data.py: 2,000 target accounts with contacts, activities and deals, one coverage
   snapshot, --people people of both sides, 300 nominations in review).
2. Signs in as a marketer of the busy team and requests each page of the load run's mix in
   process (Django's test client through every middleware, DEBUG off, JSON logs written to
   /dev/null as gunicorn's would be to a file, the cache and sessions in Redis database 9 of
   127.0.0.1:6379 unless CACHE_URL says otherwise, emptied first): a page of one URL gets three
   warm-up requests, a page of many (a rotation, as the load run's people visit them) none;
   then --runs runs of --requests requests. Reports the process CPU time per request
   (time.process_time, so the database's own time and any wait are not counted; the median of
   the runs) and the SQL queries of one request.
3. With --compile, requests each page again and reports how much of its CPU the ORM spends
   compiling its queries into SQL (Django's SQLCompiler.as_sql, timed around the outermost call
   of each query, subqueries included), and how many queries it compiled.
4. With --profile PAGE, profiles that page's requests (cProfile on CPU time; with --cold, the
   cache emptied first) and prints where the time goes by package and the functions that cost
   most (PAGE_CPU_LINES of them, 40 unless set).

Target (issue "Proof under load", item 2): page reads at 12 ms of worker CPU or less.
"""

import argparse
import collections
import io
import itertools
import logging
import os
import pstats
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.update(
    CELERY_BROKER_URL="memory://",
    CRM_BACKEND="none",
    EMAIL_URL="dummymail://",
    DEBUG="false",
    LOG_FORMAT="json",
    LOG_LEVEL="INFO",
)
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1")
# The cache and sessions in Redis, as in the load run and production (a process's memory cache
# holds 300 entries: a rotation of more pages would never hit it). Emptied at the start.
os.environ.setdefault("CACHE_URL", "redis://127.0.0.1:6379/9")

from bench.common import machine  # noqa: E402


def pages(fixture: dict) -> dict[str, str | list[str]]:
    """Each page of the mix: one URL, or a rotation of URLs (one after the other, as the load
    run's people visit them: the caches of each are cold at first)."""
    cycle, listed, in_review = fixture["cycle"], fixture["listed"], fixture["in_review"]
    return {
        "queue (waiting)": "/?tab=waiting",
        "cycle page (list, page 2)": f"/cycles/{cycle}/?page=2",
        "cycle page (list, each page)": [f"/cycles/{cycle}/?page={n}" for n in range(1, 81)],
        "cycle page (in review)": f"/cycles/{cycle}/?view=nominations&state=in_review",
        "nomination": f"/nominations/{listed[len(listed) // 2]}/",
        "nomination (each a different one)": [
            f"/nominations/{pk}/" for pk in [*listed[:100], *in_review[:100]]
        ],
        "coverage dashboard": f"/cycles/{cycle}/coverage/",
        "coverage table (page 3)": f"/cycles/{cycle}/coverage/accounts/?page=3",
        "coverage table (sorted)": f"/cycles/{cycle}/coverage/accounts/?page=2&sort=-coverage",
        "coverage table (each of the mix's 60)": [
            f"/cycles/{cycle}/coverage/accounts/?page={page}{sort}"
            for sort in ("", "&sort=-coverage", "&gap=missing_role")
            for page in range(1, 21)
        ],
        "a page that is not there": "/nothing-here/",
    }


def cpu_per_request(client, urls: Iterator[str], n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        url = next(urls)
        response = client.get(url)
        assert response.status_code in (200, 404), (url, response.status_code)
    return (time.process_time() - started) / n * 1000


def queries_of(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured.captured_queries)


def rotation(url: str | list[str]) -> Iterator[str]:
    return itertools.cycle([url] if isinstance(url, str) else url)


def by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    spent: collections.Counter = collections.Counter()
    for (path, _line, _name), (_cc, _nc, own, _cum, _callers) in stats.stats.items():
        if "site-packages/" in path:
            key = path.split("site-packages/")[1].split("/")[0]
        elif str(ROOT) in path:
            key = "accord: " + path.split(str(ROOT) + "/")[1].split("/")[0]
        else:
            key = "python"
        spent[key] += own
    total = sum(spent.values()) or 1
    return [(key, seconds / total) for key, seconds in spent.most_common(12)]


def compiling(client, fixture: dict, n: int) -> None:
    """Each page's CPU, and the part of it spent compiling SQL (the outermost as_sql of each
    query: a subquery's is inside its query's)."""
    from django.db.models.sql.compiler import SQLCompiler

    spent, compiled, depth = [0.0], [0], [0]
    as_sql = SQLCompiler.as_sql

    def timed(self, *args, **kwargs):
        if depth[0]:
            return as_sql(self, *args, **kwargs)
        depth[0] += 1
        started = time.process_time()
        try:
            return as_sql(self, *args, **kwargs)
        finally:
            spent[0] += time.process_time() - started
            compiled[0] += 1
            depth[0] -= 1

    print("\n| page | worker CPU per request (ms) | compiling SQL (ms) | share | queries |")
    print("|---|---|---|---|---|")
    SQLCompiler.as_sql = timed
    try:
        for name, url in pages(fixture).items():
            urls = rotation(url)
            spent[0], compiled[0] = 0.0, 0
            cpu = cpu_per_request(client, urls, n)
            ms = spent[0] / n * 1000
            print(
                f"| {name} | {cpu:.1f} | {ms:.1f} | {ms / cpu:.0%} | {compiled[0] / n:.1f} |",
                flush=True,
            )
    finally:
        SQLCompiler.as_sql = as_sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=400)
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", help="a page's name (or the start of it) to profile")
    parser.add_argument(
        "--compile", action="store_true", help="report the CPU spent compiling SQL, per page"
    )
    parser.add_argument(
        "--cold", action="store_true", help="empty the cache before profiling (first renders)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_databases, teardown_databases

    from bench.load.data import load

    if connection.vendor != "postgresql":
        raise SystemExit("This benchmark needs PostgreSQL: set DATABASE_URL.")
    # Logs go where gunicorn's go in production, a file: here nowhere.
    for handler in logging.getLogger().handlers:
        if hasattr(handler, "setStream"):
            handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    print(f"Creating a throw-away database with {args.people} people …", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        fixture = load(accounts=args.accounts, people=args.people, busy_team=200, say=lambda _: 0)
        cache.clear()
        print(f"Machine: {machine()}")
        print("Load average before: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        user = get_user_model().objects.get(username=fixture["people"][0]["username"])
        client = Client()
        client.force_login(user)
        print(f"\n| page | worker CPU per request (ms), median of {args.runs} | runs | queries |")
        print("|---|---|---|---|")
        for name, url in pages(fixture).items():
            urls = rotation(url)
            if isinstance(url, str):  # warm: the same URL again and again
                for _ in range(3):
                    client.get(url)
            runs = [cpu_per_request(client, urls, args.requests) for _ in range(args.runs)]
            shown = ", ".join(f"{r:.1f}" for r in runs)
            print(
                f"| {name} | **{statistics.median(runs):.1f}** | {shown} | "
                f"{queries_of(client, next(urls))} |",
                flush=True,
            )
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
        if args.compile:
            compiling(client, fixture, args.requests)
        if args.profile:
            name, url = next(
                (n, u) for n, u in pages(fixture).items() if n.startswith(args.profile)
            )
            import cProfile

            urls = rotation(url)
            if args.cold:
                cache.clear()
            profile = cProfile.Profile(time.process_time)
            profile.enable()
            for _ in range(args.requests):
                client.get(next(urls))
            profile.disable()
            stats = pstats.Stats(profile)
            print(f"\nWhere the CPU of {name} goes, by package (own time):")
            for key, share in by_package(stats):
                print(f"  {key:30s} {share:6.1%}")
            out = io.StringIO()
            stats.stream = out
            stats.sort_stats("cumulative").print_stats(int(os.environ.get("PAGE_CPU_LINES", "40")))
            stats.sort_stats("tottime").print_stats(25)
            print(out.getvalue())
    finally:
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
