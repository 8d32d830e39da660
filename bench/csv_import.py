#!/usr/bin/env python3
"""Benchmark: importing a CSV file of 100,000 accounts through the admin, as ops do.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_import_bench \\
        .venv/bin/python bench/csv_import.py [--rows 100000] [--existing 10000] [--runs 3] \\
        [--broker redis://127.0.0.1:6379/9]

1. Creates a throw-away database (test_<name of DATABASE_URL's database>, dropped at the end)
   with people on both sides, an effective ideal customer profile (so every row is scored) and
   --existing accounts that the file updates.
2. Writes a file of --rows rows (about 10 MB): the existing accounts with a new industry and
   owners, then new ones, every tenth with a parent on the line before.
3. Starts gunicorn (2 sync workers, DEBUG off) and one Celery worker (`--pool solo`, so the
   tasks run in the process whose memory is sampled), both on that database and a Redis broker.
4. --runs times: empties the accounts back to the existing ones (in SQL), then over real HTTP,
   signed in as ops: uploads the file (POST), polls the progress URL every 0.25 s until the
   check is done, opens the preview, confirms (POST) and polls until the import is done. Every
   request is timed; the worker's resident memory is sampled every 20 ms from /proc.
5. One more check and import run in this process under tracemalloc, for the peak of Python's
   own heap in the task code (accounts_app.imports.csv_import_check / csv_import_run).

Targets (issue "Security and bad input", item 3): check + import under 60 s, the worker under
300 MB, no web request over 1 s.
"""

import argparse
import gc
import os
import re
import signal
import socket
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
os.environ.setdefault("LOG_LEVEL", "WARNING")
# This process runs its own tasks in-process (the tracemalloc run); the servers get the broker.
os.environ.pop("CELERY_BROKER_URL", None)

from bench.common import machine  # noqa: E402

PAGE = os.sysconf("SC_PAGE_SIZE")
HEADER = (
    "name,domain,industry,employee_count,annual_revenue,country,region,"
    "sales_owner,marketing_owner,parent_domain\n"
)
INDUSTRIES = ("Software", "Retail", "Manufacturing", "Finance", "Healthcare")
GUNICORN = ("--workers", "2", "--log-level", "warning")
WORKER = ("--pool", "solo", "--loglevel", "WARNING", "--without-gossip", "--without-mingle")
PLACES = (("DE", "EMEA"), ("FR", "EMEA"), ("US", "NA"), ("JP", "APAC"), ("BR", "LATAM"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used: what the work costs, however busy the
    machine is (wall time is not, on a shared machine)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class PeakRss:
    """The highest resident set size of process `pid` while the block runs (every 20 ms)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def __enter__(self):
        self.before = self.peak = rss_mb(self.pid)
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.02)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))


def seed(existing: int) -> None:
    from django.contrib.auth import get_user_model

    from accounts_app.models import Account, IcpState, IcpVersion
    from workflow.services import person_set_role

    User = get_user_model()
    person_set_role(username="bench-ops", role="ops", password="bench-ops-password-1")
    for i in range(5):
        person_set_role(username=f"seller{i}", role="sales")
        person_set_role(username=f"marketer{i}", role="marketing")
    IcpVersion.objects.create(
        number=1,
        name="Bench",
        state=IcpState.EFFECTIVE,
        criteria={
            "industries": {"values": ["Software", "Finance"], "weight": 40},
            "employees": {"min": 100, "max": 5000, "weight": 30},
            "regions": {"values": ["EMEA", "NA"], "weight": 30},
        },
    )
    Account.objects.bulk_create(
        (
            Account(name=f"Old {i}", domain=f"company{i}.example", industry="Retail")
            for i in range(existing)
        ),
        batch_size=2000,
    )
    assert User.objects.count() == 11


def write_file(rows: int) -> bytes:
    lines = [HEADER]
    for i in range(rows):
        country, region = PLACES[i % len(PLACES)]
        parent = f"company{i - 1}.example" if i % 10 == 1 else ""
        lines.append(
            f"Company {i},https://www.company{i}.example/,{INDUSTRIES[i % len(INDUSTRIES)]},"
            f"{10 + i % 9000},{(i % 500) * 100000},{country},{region},"
            f"seller{i % 5},marketer{i % 5},{parent}\n"
        )
    return "".join(lines).encode()


def reset(existing: int) -> None:
    """Back to the seeded accounts, in SQL (through the ORM every row would be loaded)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_app_csvimportproblem")
        cursor.execute("DELETE FROM accounts_app_csvimport")
        cursor.execute("UPDATE accounts_app_account SET parent_id = NULL")
        cursor.execute(
            "DELETE FROM accounts_app_account WHERE id NOT IN "
            "(SELECT id FROM accounts_app_account ORDER BY id LIMIT %s)",
            [existing],
        )
        cursor.execute(
            "UPDATE accounts_app_account SET industry = 'Retail', sales_owner_id = NULL, "
            "marketing_owner_id = NULL, fit_score = NULL"
        )


class Browser:
    """Ops in the admin, over HTTP: every request timed."""

    def __init__(self, base: str) -> None:
        import httpx

        self.base = base
        self.client = httpx.Client(base_url=base, timeout=120, follow_redirects=False)
        self.times: dict[str, list[float]] = {}

    def request(self, name: str, method: str, url: str, **kwargs):
        started = time.perf_counter()
        response = self.client.request(method, url, **kwargs)
        self.times.setdefault(name, []).append(time.perf_counter() - started)
        return response

    def csrf(self, url: str) -> str:
        page = self.request("page", "GET", url)
        page.raise_for_status()
        return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    def sign_in(self) -> None:
        token = self.csrf("/admin/login/")
        response = self.client.post(
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": "bench-ops",
                "password": "bench-ops-password-1",
                "next": "/admin/",
            },
        )
        assert response.status_code == 302, response.text[:500]

    def wait(self, pk: int, until: str) -> dict:
        while True:
            state = self.request(
                "progress GET", "GET", f"/admin/accounts_app/account/import/{pk}/progress/"
            )
            state.raise_for_status()
            body = state.json()
            if body["state"] == until:
                return body
            if not body["active"]:
                raise SystemExit(f"the import ended {body['state']}: {body}")
            time.sleep(0.25)


def one_run(browser: Browser, data: bytes, rows: int, worker_pid: int) -> dict:
    cpu_before = cpu_seconds(worker_pid)
    load_before = os.getloadavg()[0]
    with PeakRss(worker_pid) as rss:
        token = browser.csrf("/admin/accounts_app/account/import/")
        started = time.perf_counter()
        uploaded = browser.request(
            "upload POST",
            "POST",
            "/admin/accounts_app/account/import/",
            data={"csrfmiddlewaretoken": token},
            files={"import_file": ("accounts.csv", data, "text/csv")},
        )
        assert uploaded.status_code == 302, uploaded.text[:2000]
        pk = int(uploaded.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
        checked = browser.wait(pk, "checked")
        check_seconds = time.perf_counter() - started
        check_cpu = cpu_seconds(worker_pid) - cpu_before
        assert checked["error_rows"] == 0 and checked["done"] == rows, checked
        preview = browser.request("preview GET", "GET", f"/admin/accounts_app/account/import/{pk}/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', preview.text).group(1)
        confirm_started = time.perf_counter()
        confirmed = browser.request(
            "confirm POST",
            "POST",
            "/admin/accounts_app/account/import/confirm/",
            data={"csrfmiddlewaretoken": token, "import_id": str(pk), "choice": "all"},
        )
        assert confirmed.status_code == 302, confirmed.text[:2000]
        done = browser.wait(pk, "done")
        import_seconds = time.perf_counter() - confirm_started
        browser.request("done page GET", "GET", f"/admin/accounts_app/account/import/{pk}/")
    return {
        "check cpu": check_cpu,
        "import cpu": cpu_seconds(worker_pid) - cpu_before - check_cpu,
        "load": (load_before + os.getloadavg()[0]) / 2,
        "check": check_seconds,
        "import": import_seconds,
        "total": check_seconds + import_seconds,
        "peak": rss.peak,
        "before": rss.before,
        "counts": (done["new"], done["updated"], done["unchanged"]),
    }


def heap_peak(data: bytes) -> tuple[float, float]:
    """Check and import in this process (tasks run in-process here) under tracemalloc."""
    from django.contrib.auth import get_user_model

    from accounts_app.imports import (
        csv_import_check,
        csv_import_confirm,
        csv_import_run,
    )
    from accounts_app.models import CsvImport

    ops = get_user_model().objects.get(username="bench-ops")
    csv_import = CsvImport.objects.create(
        kind="accounts", uploaded_by=ops, file_name="accounts.csv", size=len(data), data=data
    )
    gc.collect()
    tracemalloc.start()
    csv_import_check(csv_import=csv_import)
    _, check_peak = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    csv_import = CsvImport.objects.get(pk=csv_import.pk)
    csv_import_confirm(csv_import=csv_import, by=ops, choice="all")
    csv_import_run(csv_import=csv_import)
    _, import_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert CsvImport.objects.get(pk=csv_import.pk).state == "done"
    return check_peak / 2**20, import_peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--existing", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()

    import django

    django.setup()
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    settings.DEBUG = False
    if connection.vendor != "postgresql":
        print("warning: DATABASE_URL is not PostgreSQL; the targets are for PostgreSQL.")
    old_config = setup_databases(verbosity=0, interactive=False)
    processes = []
    try:
        seed(args.existing)
        data = write_file(args.rows)
        s = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}",
            "CELERY_BROKER_URL": args.broker,
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "AXES_ENABLED": "false",
            "LOG_LEVEL": "WARNING",
        }
        port = free_port()
        bind = f"127.0.0.1:{port}"
        # This checkout's code first, whatever the virtualenv's editable install points at.
        env["PYTHONPATH"] = str(ROOT)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "config.wsgi", *GUNICORN, "--bind", bind],
                cwd=ROOT,
                env=env,
            )
        )
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", "worker", *WORKER],
            cwd=ROOT,
            env=env,
        )
        processes.append(worker)
        browser = Browser(f"http://127.0.0.1:{port}")
        for _ in range(100):
            try:
                browser.client.get("/admin/login/")
                break
            except Exception:
                time.sleep(0.2)
        browser.sign_in()
        time.sleep(2)  # the worker's start-up

        print(f"Machine: {machine()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"Database: PostgreSQL {cursor.fetchone()[0]}")
        print(
            f"File: {args.rows:,} rows ({args.rows - args.existing:,} new accounts, "
            f"{args.existing:,} updates), {len(data) / 2**20:.1f} MB; batches of "
            f"{settings.CSV_IMPORT_BATCH_SIZE:,}; gunicorn 2 sync workers, 1 Celery worker "
            "(--pool solo)"
        )
        print("Load average before: {:.2f} {:.2f} {:.2f}\n".format(*os.getloadavg()))
        # One small import first, so that both web workers have their database and broker
        # connections open, as they have in service (as the API benchmark warms up too).
        warm_up = write_file(10)
        for _ in range(3):
            reset(args.existing)
            one_run(browser, warm_up, 10, worker.pid)
        browser.times.clear()
        results = []
        for run in range(args.runs):
            reset(args.existing)
            result = one_run(browser, data, args.rows, worker.pid)
            results.append(result)
            print(
                f"run {run + 1}: check {result['check']:.1f} s, import {result['import']:.1f} s, "
                f"total {result['total']:.1f} s; worker CPU: check {result['check cpu']:.1f} s, "
                f"import {result['import cpu']:.1f} s; load average {result['load']:.1f}; "
                f"worker RSS {result['before']:.0f} → "
                f"{result['peak']:.0f} MB; new/updated/unchanged {result['counts']}",
                flush=True,
            )
        print(f"\n| step | seconds (median of {args.runs}) | best | worst |\n|---|---|---|---|")
        for step in ("check", "import", "total", "check cpu", "import cpu"):
            values = [r[step] for r in results]
            print(
                f"| {step} | {statistics.median(values):.1f} | {min(values):.1f} | "
                f"{max(values):.1f} |"
            )
        peaks = [r["peak"] for r in results]
        print(
            f"\nWorker peak RSS: median {statistics.median(peaks):.0f} MB, max {max(peaks):.0f} MB "
            f"(idle before the first run: {results[0]['before']:.0f} MB)"
        )
        print("\n| request | count | median ms | max ms |\n|---|---|---|---|")
        for name, times in browser.times.items():
            print(
                f"| {name} | {len(times)} | {statistics.median(times) * 1000:.0f} | "
                f"{max(times) * 1000:.0f} |"
            )
        slowest = max(max(times) for times in browser.times.values())
        print(f"\nSlowest request: {slowest * 1000:.0f} ms")
        reset(args.existing)
        check_heap, import_heap = heap_peak(data)
        print(
            f"Python heap peak (tracemalloc, in-process): check {check_heap:.1f} MB, "
            f"import {import_heap:.1f} MB (the file itself: {len(data) / 2**20:.1f} MB)"
        )
        print("Load average after: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        connection.close()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    main()
