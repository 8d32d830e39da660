"""What every fault script shares: its database, Django in the script's own process, the checks
that make its verdict, and the way it ends (PASS or FAIL, exit code 0 or 1)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ops.faults.rig import Rig, with_database
from ops.processes import ROOT, ProcessError


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Checks:
    """The verdict of a run: named checks (each passes or fails, with what was seen) and the
    figures measured on the way."""

    results: list[Check] = field(default_factory=list)
    figures: dict = field(default_factory=dict)

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.results.append(Check(name, bool(ok), detail))
        print(
            f"  {'ok  ' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""), flush=True
        )
        return bool(ok)

    def figure(self, name: str, value) -> None:
        self.figures[name] = value

    @property
    def passed(self) -> bool:
        return bool(self.results) and all(c.ok for c in self.results)


# --- the database ------------------------------------------------------------------------------


class ThrowawayDatabase:
    """A new database on a PostgreSQL server, migrated, dropped when the rig closes."""

    def __init__(self, server_url: str, name: str):
        self.server_url, self.name = server_url, name
        self.url = with_database(server_url, name)

    def create(self) -> ThrowawayDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        migrate(self.url)
        return self

    def _admin(self, statement: str) -> None:
        import psycopg

        with psycopg.connect(with_database(self.server_url, "postgres"), autocommit=True) as c:
            c.execute(statement)

    def close(self) -> None:
        from django.db import connections

        connections.close_all()
        self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def migrate(database_url: str) -> None:
    """`manage.py migrate` in a process of its own, on `database_url`."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise ProcessError(f"migrate failed:\n{done.stderr[-3000:]}")


def database(args, rig: Rig, *, label: str) -> str:
    """The database the run writes to: --database-url (an empty, migrated Accord database,
    e.g. a test's), or a throw-away one made on DATABASE_URL's server."""
    if args.database_url:
        return args.database_url
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith(("postgres://", "postgresql://")):
        raise ProcessError(
            "Set DATABASE_URL to a PostgreSQL server (a throw-away database is made on it), "
            "or pass --database-url."
        )
    name = f"accord_fault_{label}_{time.strftime('%Y%m%d%H%M%S')}_{os.getpid()}"
    rig.say(f"Creating and migrating a throw-away database, {name} …")
    return rig.add(ThrowawayDatabase(server, name).create()).url


def setup_django(*, env: dict, log: Path) -> None:
    """Django in the script's own process, configured like Accord's web processes (the same
    database, broker and CRM); what Accord logs in it goes to `log`, so that the script's
    output is what the script says."""
    import logging

    for key in ("DATABASE_URL", "CELERY_BROKER_URL", "CRM_RATE_LIMIT_REDIS_URL"):
        os.environ.pop(key, None)
    os.environ.update({**env, "LOG_LEVEL": "WARNING", "CONN_MAX_AGE": "0"})
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    import django

    django.setup()
    root = logging.getLogger()
    handler = logging.FileHandler(log)
    handler.setFormatter(root.handlers[0].formatter if root.handlers else None)
    root.handlers = [handler]


def require_empty() -> None:
    """The run fills the database with throw-away people and accounts: never one in use."""
    from accounts_app.models import Account

    if Account.objects.exists():
        raise ProcessError(
            "The database already holds accounts: a fault run needs an empty one (leave out "
            "--database-url to have one made and dropped)."
        )


def sweeper_every(seconds: int) -> None:
    """The sweeper's beat row, as ops would edit it in the admin (Periodic tasks)."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    every, _ = IntervalSchedule.objects.get_or_create(every=seconds, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="crm: sweep the outbox",
        defaults={"task": "crm.tasks.sweep_outbox", "interval": every, "enabled": True},
    )


def invariants(cycle_id: int) -> tuple[bool, str]:
    """`manage.py check_invariants --cycle ID`: (passed, what it printed)."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    try:
        call_command("check_invariants", "--cycle", str(cycle_id), stdout=out, stderr=err)
    except CommandError as error:
        return False, (err.getvalue().strip() + f"\n{error}")[-2000:]
    return True, out.getvalue().strip()


def outbox_invariant(cycle_id: int) -> tuple[bool, str]:
    """The outbox's invariant of `check_invariants` alone (every list change is in the
    outbox), for a list written in bulk rather than through the workflow (whose own
    invariants it cannot meet: its approvals have no sign-offs or events)."""
    from crm.invariants import every_list_change_is_in_the_outbox
    from workflow.models import Cycle, TargetAccount

    problems = every_list_change_is_in_the_outbox([Cycle.objects.get(pk=cycle_id)])
    if problems:
        return False, "; ".join(problems[:5]) + f" ({len(problems)} in all)"
    entries = TargetAccount.objects.filter(cycle_id=cycle_id).count()
    return True, f"every change of the {entries} list entries is in the outbox"


def outbox_states() -> dict[str, int]:
    from django.db.models import Count

    from crm.models import OutboxEntry

    return dict(OutboxEntry.objects.values_list("state").annotate(n=Count("pk")).order_by())


def crm_problems(expected: dict[str, str], companies: list[dict], *, key: str) -> list[str]:
    """What is wrong with the CRM's companies against what it must hold (account key → tier):
    missing accounts, accounts held twice, a stale tier, a company not flagged as a target,
    companies of no account on the list. Empty when the CRM is right."""
    held: dict[str, list[dict]] = {}
    for company in companies:
        properties = company.get("properties", company)
        if properties.get(key):
            held.setdefault(properties[key], []).append(properties)
    problems = []
    missing = sorted(set(expected) - set(held))
    if missing:
        problems.append(f"{len(missing)} account(s) missing, e.g. {missing[:3]}")
    twice = sorted(k for k, found in held.items() if len(found) > 1)
    if twice:
        problems.append(f"{len(twice)} account(s) held more than once, e.g. {twice[:3]}")
    stale = sorted(
        k
        for k, tier in expected.items()
        if k in held and held[k][-1].get("hs_ideal_customer_profile") != tier
    )
    if stale:
        problems.append(
            f"{len(stale)} account(s) with another tier than the list's, e.g. "
            + ", ".join(
                f"{k}: {held[k][-1].get('hs_ideal_customer_profile')} instead of {expected[k]}"
                for k in stale[:3]
            )
        )
    unflagged = sorted(
        k for k in expected if k in held and held[k][-1].get("hs_is_target_account") != "true"
    )
    if unflagged:
        problems.append(f"{len(unflagged)} account(s) not flagged as target accounts")
    extra = sorted(set(held) - set(expected))
    if extra:
        problems.append(f"{len(extra)} compan(y/ies) of no account on the list")
    return problems


# --- the end of a run --------------------------------------------------------------------------


def finish(fault: str, checks: Checks, *, error: BaseException | None, json_path: Path | None):
    """Print the verdict (and write it as JSON); the exit code: 0 PASS, 1 FAIL."""
    if error is not None:
        checks.check(
            "the run went to its end",
            False,
            f"{type(error).__name__}: {error}"
            if isinstance(error, ProcessError)
            else "".join(traceback.format_exception(error))[-3000:],
        )
    passed = checks.passed
    outcome = {
        "fault": fault,
        "passed": passed,
        "checks": [c.__dict__ for c in checks.results],
        "figures": checks.figures,
        "load_average": os.getloadavg(),
    }
    if json_path is not None:
        json_path.write_text(json.dumps(outcome, indent=2, default=str))
    print("Figures: " + json.dumps(checks.figures, default=str))
    print(f"Load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{fault}: {'PASS' if passed else 'FAIL'}", flush=True)
    return 0 if passed else 1


@dataclass
class Stack:
    """Accord's surroundings for a run: its database, a redis-server and the HubSpot sandbox,
    the environment of its processes, and Django set up in the script's process with them."""

    env: dict
    redis: object
    sandbox: object
    database_url: str


def stack(args, rig: Rig, *, label: str, sandbox_rate_limit: int = 100_000, **settings) -> Stack:
    """Database (see `database`), redis-server and sandbox started, Django set up on them, the
    sandbox given Accord's key property (`crm_setup`). `settings` are environment variables of
    every Accord process (the script's own too)."""
    from ops.faults.rig import Sandbox, accord_env
    from ops.processes import RedisServer

    url = database(args, rig, label=label)
    redis = rig.add(RedisServer(rig.directory).start())
    sandbox = rig.add(Sandbox(rate_limit=sandbox_rate_limit))
    env = accord_env(database_url=url, broker_url=redis.url, sandbox_url=sandbox.url, **settings)
    setup_django(env=env, log=rig.directory / "script.log")
    require_empty()
    from crm.adapters import get_adapter

    adapter = get_adapter("hubspot")
    try:
        adapter.ensure_properties()
    finally:
        adapter.close()
    return Stack(env=env, redis=redis, sandbox=sandbox, database_url=url)


def queued_tasks(redis_url: str, queue: str = "celery") -> Counter:
    """The task messages waiting in a Celery queue on Redis, by task name."""
    import redis

    client = redis.Redis.from_url(f"{redis_url}/0", socket_connect_timeout=2)
    names = Counter()
    for raw in client.lrange(queue, 0, -1):
        names[json.loads(raw).get("headers", {}).get("task", "?")] += 1
    return names
