#!/usr/bin/env python3
"""Load: a busy team on Accord in its production shape, on loopback, with locust.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/accord_load \\
        .venv/bin/python bench/load/run.py [--multipliers 1 2 4] [--duration 60] [--busy-team 200]

1. Creates a throw-away database on DATABASE_URL's server (test_<name>, dropped at the end) and
   loads the data set of bench/load/data.py: one active cycle with --accounts target accounts
   (contacts, activities, deals, one coverage snapshot), busy-team × the largest multiplier
   people (one in five an approver), --in-review nominations waiting for sign-offs, prospects
   to nominate, an integration token.
2. Starts the production shape, each process in its own group, logs in --out: a redis-server
   of its own on a spare port (broker on db 0, cache and rate-limit bucket on db 1), the HubSpot
   sandbox (limited like a Professional portal, 190 requests per 10 s), gunicorn
   (config.wsgi, --web-workers × --threads, gthread, with bench/load/gunicorn_conf.py's CPU
   hooks), a Celery worker and Celery beat, with CRM_BACKEND=hubspot pointing at the sandbox.
   The agreed list is pushed to the sandbox once before the runs (`crm_push --cycle`).
3. For each multiplier m: `locust --headless` with busy-team × m people and m CRM-side jobs
   (bench/load/locustfile.py). The people sign in over --ramp seconds (the sign-in burst);
   --settle seconds after the last sign-in the steady window begins and lasts --duration
   seconds. Meanwhile a watcher polls the database for approvals and the sandbox's API (batch
   read by the account key property) until each approved company is flagged as a target
   account.
4. Prints, for the steady window: per endpoint requests/s, p50/p95/p99 and errors, the worker
   CPU each request cost (gunicorn workers' CPU time from /proc/<pid>/stat over the window ÷
   the requests they served, and per endpoint from the per-thread CPU the hooks log); for the
   ramp: the sign-ins; for the whole run: approval → flagged in the CRM, p50/p95. Then the
   targets of the issue, met or not, with the load average. Raw results in --out.

Targets (issue 10, item 2): p95 under 300 ms for reads and under 500 ms for sign-offs at 2×;
approval to CRM p95 under 5 s; page reads at 12 ms of worker CPU or less; no errors.
"""

import argparse
import json
import math
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
BASE_ENV = dict(os.environ)  # what the started processes inherit (before the loader's own)

# The loader's own process: tasks its services queue go nowhere (the seeded nominations'
# notifications are not part of the load), no CRM, no mail.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.update(
    CELERY_BROKER_URL="memory://",
    CRM_BACKEND="none",
    EMAIL_URL="dummymail://",
    DEBUG="false",
    LOG_LEVEL="WARNING",
)

from bench.common import machine  # noqa: E402
from bench.load.pages import READS, SIGN_INS, SIGN_OFFS, name_of  # noqa: E402
from ops.processes import (  # noqa: E402
    ProcessError,
    RedisServer,
    Service,
    Started,
    WebServer,
    beat,
    children,
    free_port,
    worker,
)

SANDBOX_TOKEN = "accord-load-sandbox-token"
KEY_PROPERTY = "accord_account_key"


# CPU from /proc ---------------------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of stat(5)


def cpu_of(pids: list[int]) -> dict[int, float]:
    return {pid: cpu_seconds(pid) for pid in pids}


# The CRM watcher --------------------------------------------------------------------------------


class CrmWatch(threading.Thread):
    """Approvals (the `agreed` events of add nominations, from the database) and the moment the
    sandbox's API first shows each company flagged as a target account (a batch read by the
    account key property, every `interval` seconds, for every approval not yet seen there)."""

    def __init__(self, sandbox_url: str, *, interval: float = 0.25):
        super().__init__(daemon=True)
        import httpx

        from workflow.models import NominationEvent

        self.client = httpx.Client(
            base_url=sandbox_url,
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=10,
            verify=False,
        )
        self.interval = interval
        last = NominationEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        self.last_event = last or 0
        self.pending: dict[str, float] = {}  # account key → approved at (epoch seconds)
        self.latencies: list[float] = []
        self.requests = self.throttled = self.failed = 0
        self.stopping = threading.Event()
        self.grace = 60.0

    def run(self) -> None:
        from django.db import connection

        from workflow.models import NominationEvent

        stop_deadline = None
        try:
            while True:
                for pk, at, key in NominationEvent.objects.filter(
                    pk__gt=self.last_event, action="agreed", nomination__kind="add"
                ).values_list("pk", "created_at", "nomination__account__key"):
                    self.last_event = max(self.last_event, pk)
                    self.pending[str(key)] = at.timestamp()
                if self.pending:
                    self.look()
                if self.stopping.is_set():
                    stop_deadline = stop_deadline or time.monotonic() + self.grace
                    if not self.pending or time.monotonic() > stop_deadline:
                        return
                time.sleep(self.interval)
        finally:
            connection.close()

    def look(self) -> None:
        import httpx

        keys = list(self.pending)[:100]
        try:
            response = self.client.post(
                "/crm/v3/objects/companies/batch/read",
                json={
                    "idProperty": KEY_PROPERTY,
                    "properties": [KEY_PROPERTY, "hs_is_target_account"],
                    "inputs": [{"id": k} for k in keys],
                },
            )
        except httpx.HTTPError:
            self.failed += 1
            return
        seen = time.time()
        self.requests += 1
        if response.status_code == 429:
            self.throttled += 1
            return
        for result in response.json().get("results", []):
            props = result.get("properties", {})
            key = props.get(KEY_PROPERTY)
            if key in self.pending and str(props.get("hs_is_target_account")).lower() == "true":
                self.latencies.append(seen - self.pending.pop(key))


def _last_pk(label: str) -> int:
    from django.apps import apps
    from django.db import connection

    pk = apps.get_model(label).objects.order_by("-pk").values_list("pk", flat=True).first()
    connection.close()
    return pk or 0


def workflow_counts(after_sign_off: int) -> dict:
    """What the run did to the workflow (sign-offs by decision, approvals), from the database."""
    from django.db import connection
    from django.db.models import Count

    from workflow.models import Nomination, SignOff

    sign_offs = SignOff.objects.filter(pk__gt=after_sign_off, by_submission=False)
    counts = dict(sign_offs.values_list("decision").annotate(n=Count("pk")).order_by())
    counts["counted at submission"] = SignOff.objects.filter(
        pk__gt=after_sign_off, by_submission=True
    ).count()
    counts["in review now"] = Nomination.objects.filter(state="in_review").count()
    connection.close()
    return counts


# One run --------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def read_cpu_log(out: Path, t0: float, t1: float) -> dict[str, list[float]]:
    """Per endpoint: the CPU ms of each request the workers finished inside [t0, t1]."""
    by_name: dict[str, list[float]] = defaultdict(list)
    for path in out.glob("cpu-*.tsv"):
        for line in path.read_text().splitlines():
            t, method, url, status, cpu_ms, _ = line.split("\t")
            if t0 <= float(t) <= t1:
                by_name[name_of(method, url, int(status))].append(float(cpu_ms))
    return by_name


def run_once(
    *,
    m: int,
    args,
    fixture_path: Path,
    web: WebServer,
    celery: Service,
    sandbox_url: str,
    procs,
    out,
):
    from django.db import connection

    from bench.load.data import refresh

    people = args.busy_team * m
    pollers = m
    run_dir = out / f"x{m}"
    run_dir.mkdir(exist_ok=True)
    refresh(fixture_path)
    connection.close()
    steady_file = run_dir / "steady-started"
    samples_file = run_dir / "samples.jsonl"
    env = {
        **BASE_ENV,
        "ACCORD_LOAD_FIXTURE": str(fixture_path),
        "ACCORD_LOAD_PEOPLE": str(people),
        "ACCORD_LOAD_POLLERS": str(pollers),
        "ACCORD_LOAD_STEADY_SECONDS": str(args.duration),
        "ACCORD_LOAD_SETTLE_SECONDS": str(args.settle),
        "ACCORD_LOAD_THINK": args.think,
        "ACCORD_LOAD_POLL_SECONDS": str(args.poll_seconds),
        "ACCORD_LOAD_SAMPLES": str(samples_file),
        "ACCORD_LOAD_STEADY_FILE": str(steady_file),
    }
    spawn_rate = people / args.ramp
    # A bound, not the plan: the steady window ends the run (the locustfile stops itself).
    hard_limit = int(args.max_ramp + args.settle + args.duration + 60)
    command = [
        str(BIN / "locust"),
        "-f",
        str(ROOT / "bench/load/locustfile.py"),
        "--headless",
        "-u",
        str(people + pollers),
        "-r",
        f"{spawn_rate:.3f}",
        "-t",
        f"{hard_limit}s",
        "--csv",
        str(run_dir / "locust"),
        "--host",
        web.url,
        "--only-summary",
        "--stop-timeout",
        "15",
        "--loglevel",
        "WARNING",
    ]
    print(
        f"\n== {m}× = {people} people (spawn {spawn_rate:.1f}/s, so all sign in within "
        f"{args.ramp:.0f} s) + {pollers} CRM job(s); steady window {args.duration:.0f} s",
        flush=True,
    )
    watch = CrmWatch(sandbox_url)
    watch.start()
    first_sign_off = _last_pk("workflow.SignOff")
    load_before = os.getloadavg()
    started = time.time()
    locust = procs.add(Service(f"locust-x{m}", command, env, out / f"locust-x{m}.log").launch())
    t0 = t1 = cpu0 = cpu1 = None
    loads, next_load = [], 0.0
    try:
        running = True
        while running:
            # Read after the check: the marks of a locust that has just quit are still seen.
            running = locust.alive()
            marks = steady_file.read_text().split() if steady_file.exists() else []
            if t0 is None and marks:
                t0 = time.time()
                cpu0 = cpu_of(web.workers()), cpu_of([celery.pid, *children(celery.pid)])
                print(f"  all signed in after {t0 - started:.0f} s; steady window …", flush=True)
            if t1 is None and len(marks) == 2:
                t1 = time.time()
                cpu1 = cpu_of(list(cpu0[0])), cpu_of(list(cpu0[1]))
            if t0 is not None and time.monotonic() >= next_load:
                loads.append(os.getloadavg()[0])
                next_load = time.monotonic() + 5
            if running:
                time.sleep(0.2)
        if t0 is None or t1 is None:
            raise SystemExit(
                f"locust stopped before its steady window ended (the sign-ins took longer than "
                f"--max-ramp {args.max_ramp:.0f} s?): see {out}/locust-x{m}.log"
            )
    except BaseException:
        watch.grace = 0  # no waiting for the CRM: the run is over
        raise
    finally:
        # Before the database is dropped: the watcher holds a connection to it.
        watch.stopping.set()
        watch.join(timeout=watch.grace + 30)
    web_cpu = sum(cpu1[0][pid] - before for pid, before in cpu0[0].items())
    celery_cpu = sum(cpu1[1][pid] - before for pid, before in cpu0[1].items())
    load_after = os.getloadavg()

    result_workflow = workflow_counts(first_sign_off)
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    cpu_log = read_cpu_log(out, t0, t1)
    served = sum(len(v) for v in cpu_log.values())
    steady = [s for s in samples if s["phase"] == "steady"]
    ramp = [s for s in samples if s["phase"] == "ramp"]
    window = t1 - t0
    result = {
        "multiplier": m,
        "people": people,
        "crm_jobs": pollers,
        "window_s": window,
        "ramp_s": t0 - started,
        "load_before": load_before,
        "load_after": load_after,
        "load_during": loads,
        "endpoints": {},
        "workflow": result_workflow,
        "served": served,
        "web_cpu_s": web_cpu,
        "web_cpu_ms_per_request": 1000 * web_cpu / served if served else None,
        "celery_cpu_s": celery_cpu,
        "crm": {
            "approvals": len(watch.latencies) + len(watch.pending),
            "flagged": len(watch.latencies),
            "not_flagged": len(watch.pending),
            "p50_s": percentile(watch.latencies, 50),
            "p95_s": percentile(watch.latencies, 95),
            "max_s": max(watch.latencies, default=float("nan")),
            "watch_requests": watch.requests,
            "watch_throttled": watch.throttled,
            "watch_failed": watch.failed,
        },
    }
    by_name = defaultdict(list)
    for s in steady:
        by_name[s["name"]].append(s)
    for name, rows in sorted(by_name.items()):
        times = [r["ms"] for r in rows]
        cpu = cpu_log.get(name, [])
        result["endpoints"][name] = {
            "requests": len(rows),
            "rps": len(rows) / window,
            "p50": percentile(times, 50),
            "p95": percentile(times, 95),
            "p99": percentile(times, 99),
            "errors": sum(1 for r in rows if r.get("error")),
            "conflicts": sum(1 for r in rows if r["status"] == 409),
            "cpu_ms": statistics.mean(cpu) if cpu else None,
            "cpu_n": len(cpu),
        }
    sign_ins = [s["ms"] for s in ramp if s["name"] == "POST sign-in"]
    result["ramp_sign_ins"] = {
        "count": len(sign_ins),
        "errors": sum(1 for s in ramp if s["name"] in SIGN_INS and s.get("error")),
        "p50": percentile(sign_ins, 50),
        "p95": percentile(sign_ins, 95),
        "max": max(sign_ins, default=float("nan")),
        "all_ramp_errors": sum(1 for s in ramp if s.get("error")),
    }
    page_reads = [
        (x["cpu_ms"], x["cpu_n"])
        for n, x in result["endpoints"].items()
        if n in READS and not n.startswith("GET API") and x["cpu_ms"] is not None
    ]
    result["summary"] = {
        "reads_p95": percentile([s["ms"] for s in steady if s["name"] in READS], 95),
        "sign_offs_p95": percentile([s["ms"] for s in steady if s["name"] in SIGN_OFFS], 95),
        "page_read_cpu_ms": _weighted(page_reads),
        "errors": sum(1 for s in steady if s.get("error")),
        "requests": len(steady),
    }
    errors = [s for s in samples if s.get("error")]
    result["errors_sample"] = sorted({f"{s['name']}: {s['error']}" for s in errors})[:10]
    report(result)
    (run_dir / "result.json").write_text(json.dumps(result, indent=2))
    return result


def _ms(value) -> str:
    return "–" if value is None or value != value else f"{value:.0f}"


def report(r: dict) -> None:
    e = r["endpoints"]
    total = sum(x["requests"] for x in e.values())
    errors = sum(x["errors"] for x in e.values())
    print(
        f"\n### {r['multiplier']}× ({r['people']} people, {r['crm_jobs']} CRM job(s)): "
        f"steady window {r['window_s']:.0f} s, {total / r['window_s']:.1f} requests/s, "
        f"errors {errors} ({100 * errors / max(total, 1):.2f} %)"
    )
    print(
        "Load average: before {:.2f}, during {}, after {:.2f}".format(
            r["load_before"][0],
            "–".join(f"{x:.1f}" for x in (min(r["load_during"]), max(r["load_during"])))
            if r["load_during"]
            else "?",
            r["load_after"][0],
        )
    )
    print(
        "\n| endpoint | requests | req/s | p50 (ms) | p95 (ms) | p99 (ms) | errors "
        "| worker CPU (ms/request) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, x in e.items():
        errs = f"{x['errors']}" + (f" (+{x['conflicts']} conflicts)" if x["conflicts"] else "")
        print(
            f"| {name} | {x['requests']} | {x['rps']:.2f} | {_ms(x['p50'])} | {_ms(x['p95'])} "
            f"| {_ms(x['p99'])} | {errs} | "
            + ("–" if x["cpu_ms"] is None else f"{x['cpu_ms']:.1f}")
            + " |"
        )
    s, c, ri = r["summary"], r["crm"], r["ramp_sign_ins"]
    print(f"\nAll reads p95 {_ms(s['reads_p95'])} ms; sign-offs p95 {_ms(s['sign_offs_p95'])} ms.")
    print(
        f"Worker CPU: {r['web_cpu_ms_per_request']:.1f} ms per request served "
        f"({r['web_cpu_s']:.1f} s over {r['served']} requests, from /proc); page reads "
        f"{s['page_read_cpu_ms']:.1f} ms each (per-thread, from the hooks); Celery worker "
        f"{r['celery_cpu_s']:.1f} s."
        if r["web_cpu_ms_per_request"]
        else "Worker CPU: no request served in the window?"
    )
    print(
        f"Approval → flagged in the CRM: {c['flagged']} of {c['approvals']} approvals, "
        f"p50 {c['p50_s']:.2f} s, p95 {c['p95_s']:.2f} s, max {c['max_s']:.2f} s"
        + (f"; {c['not_flagged']} not flagged within the grace period" if c["not_flagged"] else "")
    )
    print(
        f"Ramp ({r['ramp_s']:.0f} s): {ri['count']} sign-ins, p50 {_ms(ri['p50'])} ms, "
        f"p95 {_ms(ri['p95'])} ms, max {_ms(ri['max'])} ms; errors in the ramp: "
        f"{ri['all_ramp_errors']}"
    )
    print("Workflow: " + ", ".join(f"{k} {v}" for k, v in r["workflow"].items()))
    if r["errors_sample"]:
        print("Errors seen: " + "; ".join(r["errors_sample"]))


def _weighted(pairs) -> float:
    n = sum(k for _, k in pairs)
    return sum(v * k for v, k in pairs) / n if n else float("nan")


def targets(results: list[dict]) -> None:
    print("\n### Targets (issue 10, item 2)")
    at2 = next((r for r in results if r["multiplier"] == 2), None)
    rows = []
    if at2:
        s = at2["summary"]
        rows.append(("reads p95 < 300 ms at 2×", f"{s['reads_p95']:.0f} ms", s["reads_p95"] < 300))
        rows.append(
            (
                "sign-offs p95 < 500 ms at 2×",
                f"{s['sign_offs_p95']:.0f} ms",
                s["sign_offs_p95"] < 500,
            )
        )
    else:
        rows.append(("reads and sign-offs at 2×", "not run (no 2× multiplier)", None))
    for r in results:
        c = r["crm"]
        rows.append(
            (
                f"approval → CRM p95 < 5 s at {r['multiplier']}×",
                f"{c['p95_s']:.2f} s over {c['approvals']} approvals",
                c["p95_s"] < 5 and not c["not_flagged"] if c["approvals"] else None,
            )
        )
    for r in results:
        cpu = r["summary"]["page_read_cpu_ms"]
        what = f"page reads ≤ 12 ms worker CPU at {r['multiplier']}×"
        rows.append((what, f"{cpu:.1f} ms", cpu <= 12))
    for r in results:
        errs, total = r["summary"]["errors"], r["summary"]["requests"]
        ramp = r["ramp_sign_ins"]["all_ramp_errors"]
        rows.append(
            (
                f"no errors at {r['multiplier']}×",
                f"{errs} of {total} in the window, {ramp} in the ramp",
                errs == 0 and ramp == 0,
            )
        )
    print("\n| target | measured | met |\n|---|---|---|")
    for what, measured, met in rows:
        print(f"| {what} | {measured} | {'–' if met is None else 'yes' if met else 'no'} |")


# Main -------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--multipliers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--duration", type=float, default=60, help="steady window, seconds")
    parser.add_argument(
        "--settle",
        type=float,
        default=5,
        help="seconds from the last sign-in to the steady window (the burst's queue drains)",
    )
    parser.add_argument("--busy-team", type=int, default=200, help="people at 1×")
    parser.add_argument("--ramp", type=float, default=60, help="seconds for all to sign in")
    parser.add_argument(
        "--max-ramp", type=float, default=600, help="give up if the sign-ins take longer"
    )
    parser.add_argument("--think", default="10,30", help="seconds between a person's actions")
    parser.add_argument("--poll-seconds", type=float, default=10, help="CRM job's poll interval")
    parser.add_argument("--accounts", type=int, default=2000, help="target accounts")
    parser.add_argument("--in-review", type=int, default=300)
    parser.add_argument("--quorum", type=int, default=1, help="approvals each side needs")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--keep-alive", type=int, default=75, help="gunicorn's, seconds")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="logs and raw results")
    args = parser.parse_args()

    import django

    django.setup()
    import httpx
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    from bench.load.data import load

    if connection.vendor != "postgresql":
        raise SystemExit("The load run needs PostgreSQL: set DATABASE_URL.")
    out = args.out or Path(f"/tmp/accord-load-{time.strftime('%Y%m%d-%H%M%S')}")
    out.mkdir(parents=True, exist_ok=True)
    people = args.busy_team * max(args.multipliers)
    print(f"Logs and raw results: {out}")
    print(f"Creating a throw-away database and loading {people} people …", flush=True)
    started = time.perf_counter()
    old_config = setup_databases(verbosity=0, interactive=False)
    procs = Started()
    try:
        fixture = load(
            accounts=args.accounts,
            people=people,
            busy_team=args.busy_team,
            in_review=args.in_review,
            quorum=args.quorum,
            say=lambda line: print(line, flush=True),
        )
        fixture_path = out / "fixture.json"
        fixture_path.write_text(json.dumps(fixture))
        print(f"  database ready in {time.perf_counter() - started:.0f} s", flush=True)

        db = connection.settings_dict
        redis = RedisServer(out)
        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        env = {
            **BASE_ENV,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_URL": f"{redis.url}/0",
            "CACHE_URL": f"{redis.url}/1",
            "CRM_RATE_LIMIT_REDIS_URL": f"{redis.url}/1",
            "CRM_BACKEND": "hubspot",
            "HUBSPOT_BASE_URL": sandbox_url,
            "HUBSPOT_ACCESS_TOKEN": SANDBOX_TOKEN,
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "WARNING",
            "ACCORD_LOAD_CPU_DIR": str(out),
        }
        procs.add(redis.launch())
        sandbox = Service(
            "sandbox",
            [
                sys.executable,
                "-m",
                "crm.sandbox",
                "--kind",
                "hubspot",
                "--port",
                str(sandbox_port),
                "--token",
                SANDBOX_TOKEN,
                "--rate-limit",
                "190",
            ],
            env,
            out / "sandbox.log",
            port=sandbox_port,
        )
        procs.add(sandbox.launch())
        redis.wait_ready(timeout=20)
        sandbox.wait_ready(timeout=30)
        manage = [sys.executable, "manage.py"]
        subprocess.run([*manage, "crm_setup"], cwd=ROOT, env=env, check=True)
        subprocess.run(
            [*manage, "crm_push", "--cycle", str(fixture["cycle"]), "--no-progress"],
            cwd=ROOT,
            env=env,
            check=True,
        )
        web = WebServer(
            env,
            out,
            workers=args.web_workers,
            threads=args.threads,
            keep_alive=args.keep_alive,
            options=[
                *("-c", str(ROOT / "bench/load/gunicorn_conf.py")),
                "--log-level=warning",
                *("--access-logfile", str(out / "access.log")),
            ],
        )
        procs.add(web.launch())
        # INFO: its "ready." line is how the harness knows it started.
        celery_env = {**env, "ACCORD_LOAD_CPU_DIR": "", "LOG_LEVEL": "INFO"}
        celery = procs.add(worker(celery_env, out, concurrency=args.celery_concurrency).launch())
        procs.add(beat({**env, "ACCORD_LOAD_CPU_DIR": ""}, out).launch())
        web.wait_ready(timeout=60)
        celery.wait_ready(timeout=90)
        with httpx.Client(base_url=web.url, timeout=30) as client:
            for _ in range(2 * args.web_workers):  # each worker imports and connects once
                assert client.get("/login/").status_code == 200
        settle()

        print(f"\nMachine: {machine()}")
        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(f"PostgreSQL {cursor.fetchone()[0]}")
        print(
            f"gunicorn {args.web_workers} workers × {args.threads} threads (gthread), Celery "
            f"worker concurrency {args.celery_concurrency} + beat, redis-server, HubSpot sandbox "
            "(190 requests per 10 s); locust in its own process, all on this machine"
        )
        print("Data: " + ", ".join(f"{v:,} {k}" for k, v in fixture["sizes"].items()))
        results = []
        try:
            for m in args.multipliers:
                warm_up(web.url, fixture)
                r = run_once(
                    m=m,
                    args=args,
                    fixture_path=fixture_path,
                    web=web,
                    celery=celery,
                    sandbox_url=sandbox_url,
                    procs=procs,
                    out=out,
                )
                results.append(r)
                settle()
        except KeyboardInterrupt:
            print("\nInterrupted: the targets of the runs that finished.")
        targets(results)
        (out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    finally:
        procs.close()
        connection.close()
        teardown_databases(old_config, verbosity=0)


def warm_up(web_url: str, fixture: dict) -> None:
    """Sign one person in and open the dashboard once: its first view of a snapshot renders and
    caches the charts (seconds of vl-convert, once per snapshot), which no run should time."""
    import httpx

    with httpx.Client(base_url=web_url, timeout=120) as client:
        client.get("/login/")
        client.post(
            "/login/",
            data={
                "username": fixture["people"][0]["username"],
                "password": fixture["password"],
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
        )
        response = client.get(f"/cycles/{fixture['cycle']}/coverage/")
        if response.status_code != 200:
            raise SystemExit(f"The dashboard answered {response.status_code} before the runs.")


def settle(timeout: float = 120) -> None:
    """Wait until no sync run is in progress (the pull beat starts at once, a push in flight)."""
    from django.db import connection

    from crm.models import SyncRun, SyncState

    deadline = time.monotonic() + timeout
    time.sleep(2)
    while time.monotonic() < deadline:
        if not SyncRun.objects.filter(state__in=[SyncState.QUEUED, SyncState.RUNNING]).exists():
            break
        time.sleep(1)
    connection.close()


if __name__ == "__main__":
    try:
        main()
    except ProcessError as error:  # a process would not start (stopped by then): one line
        raise SystemExit(str(error)) from None
