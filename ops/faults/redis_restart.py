"""Redis restarted with pushes queued: the outbox still holds every change, the sweeper delivers it.

1. Accord on a throw-away database, a redis-server of its own that keeps nothing on disk (as a
   Redis restarted without persistence), the HubSpot sandbox. No worker is running.
2. --accounts nominations are agreed through the workflow's services, as the site does: each
   approval commits its list change with its outbox entry, then queues its push task in Redis.
3. Redis is killed and started again on the same port: every queued task is gone.
4. A Celery worker and beat start (the sweeper's row every --sweep-every seconds, as ops may
   set it in the admin; it takes changes older than CRM_OUTBOX_SWEEP_AFTER_SECONDS, 5 s here
   instead of 60).

PASS when: a push task per approval was queued before the restart and none after it; the outbox
held every change (a pending entry per account, `check_invariants` passes) while the CRM had
none; the sweeper delivered them all, each account once with its tier, none to the dead
letter; `check_invariants` passes at the end.
"""

from __future__ import annotations

import re
import time

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY
from ops.processes import ProcessError, beat, eventually, wait_for, worker


def add_arguments(parser) -> None:
    parser.add_argument("--accounts", type=int, default=40, help="approvals queued")
    parser.add_argument("--sweep-every", type=int, default=2, help="the sweeper's interval, s")
    parser.add_argument("--timeout", type=float, default=300, help="for the CRM to be complete")
    parser.add_argument(
        "--busy",
        type=int,
        default=0,
        help="then restart Redis again under a worker pushing a list of this many accounts",
    )
    parser.add_argument("--slow", type=float, default=0.5, help="seconds the CRM takes a batch")


def run(args, rig, checks) -> None:
    s = common.stack(
        args,
        rig,
        label="redis",
        CRM_OUTBOX_SWEEP_AFTER_SECONDS="5",
        CRM_OUTBOX_LEASE_SECONDS="10",  # a dead worker's entries are taken over in 10 s
    )
    from crm.models import OutboxEntry, OutboxState, SyncRun

    people = data.cast()
    accounts = data.prospects(args.accounts, prefix="queued")
    nominations = [
        data.propose(people, account, tier=1 + i % 3) for i, account in enumerate(accounts)
    ]
    common.sweeper_every(args.sweep_every)
    rig.say(f"No worker running; agreeing {len(nominations)} nominations …")
    for nomination in nominations:
        data.agree(people, nomination)
    queued = common.queued_tasks(s.redis.url)
    rig.say(f"Queued in Redis: {dict(queued)}")
    checks.check(
        "a push task per approval was queued in Redis",
        queued["crm.tasks.push_outbox"] == len(nominations),
        f"{queued['crm.tasks.push_outbox']} push tasks for {len(nominations)} approvals",
    )

    rig.say("Killing Redis and starting it again on the same port …")
    s.redis.stop()
    s.redis.start()
    after = common.queued_tasks(s.redis.url)
    checks.check("the restart lost every queued task", not after, f"queued now: {dict(after)}")
    pending = OutboxEntry.objects.filter(state=OutboxState.PENDING).count()
    checks.check(
        "the outbox holds every change (PostgreSQL)",
        pending == len(nominations),
        f"{pending} pending entries for {len(nominations)} approvals",
    )
    passed, said = common.invariants(people.cycle.pk)
    checks.check("check_invariants passes before delivery", passed, said)
    checks.check(
        "the CRM has none of them yet", not s.sandbox.companies(), f"{len(s.sandbox.companies())}"
    )

    rig.say("Starting a worker and beat …")
    started = time.monotonic()
    celery = rig.add(worker(s.env, rig.directory)).start()
    rig.add(beat(s.env, rig.directory)).start()
    expected = data.expected_tiers(people.cycle)

    def complete() -> bool:
        return not common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)

    eventually(complete, timeout=args.timeout)
    took = time.monotonic() - started
    rig.say(f"Waited {took:.1f} s after the worker and beat were started")
    checks.figure("accounts", len(nominations))
    checks.figure("seconds_to_deliver_after_start", round(took, 1))
    eventually(
        lambda: not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists(), timeout=60
    )
    problems = common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)
    checks.check(
        "the CRM holds every account once, with its tier",
        not problems,
        "; ".join(problems) or f"{len(expected)} accounts",
    )
    triggers = sorted(set(SyncRun.objects.values_list("trigger", flat=True)))
    checks.check("the sweeper delivered them", triggers == ["sweeper"], f"runs by {triggers}")
    checks.check(
        "nothing went to the dead letter",
        not OutboxEntry.objects.filter(state=OutboxState.FAILED).exists(),
        str(common.outbox_states()),
    )
    passed, said = common.invariants(people.cycle.pk)
    checks.check("check_invariants passes at the end", passed, said)
    if args.busy:
        _busy(args, rig, checks, s, celery)


def _busy(args, rig, checks, s, celery) -> None:
    """Redis restarted under a worker in the middle of a push (of a second cycle's list, written
    in bulk), the CRM taking --slow seconds a batch. A worker that neither reconnects nor exits
    is replaced, as its supervisor would (docs/crm.md: Celery/kombu may give up when Redis goes
    away under a task it has not acknowledged)."""
    from crm import services
    from crm.models import OutboxEntry, OutboxState

    people = data.cast(name="FY27 H2")
    data.agreed_list(people, args.busy, prefix="busy", queue=False)
    s.sandbox.handle.set_faults(rate_slow=1.0, slow_seconds=args.slow, path="/batch/")
    writes = s.sandbox.counters()["write_requests"]
    services.sync_run_request_push(by=people.ops, cycle=people.cycle)
    wait_for(lambda: s.sandbox.counters()["write_requests"] > writes, timeout=120, what="the push")
    held = len(s.sandbox.companies())
    rig.say(f"Pushing {args.busy} accounts (the CRM holds {held} companies); restarting Redis …")
    log = len(celery.output())
    s.redis.stop()
    time.sleep(1)
    s.redis.start()

    def fate() -> str:
        after = celery.output()[log:]
        if not celery.alive():
            return "exited"
        if re.search(r"\] received", after):
            return "reconnected" + (
                " after an Unrecoverable error" if "Unrecoverable" in after else ""
            )
        return ""

    try:
        seen = wait_for(fate, timeout=20, interval=0.5, what="the worker to take tasks again")
    except ProcessError:
        seen = "stopped taking tasks"
    rig.say(f"The worker {seen}")
    checks.figure("busy_worker_after_the_restart", seen)
    if not seen.startswith("reconnected"):
        celery.kill()
        celery = rig.add(worker(s.env, rig.directory)).start()
        rig.say("A new worker started (as a supervisor would)")
    expected = data.expected_tiers(people.cycle)
    started = time.monotonic()
    eventually(
        lambda: not common.crm_problems(expected, _companies(s, expected), key=KEY_PROPERTY),
        timeout=args.timeout,
        interval=1,
    )
    eventually(
        lambda: not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists(), timeout=120
    )
    checks.figure("busy_seconds_to_deliver_after_the_restart", round(time.monotonic() - started, 1))
    problems = common.crm_problems(expected, _companies(s, expected), key=KEY_PROPERTY)
    checks.check(
        "restarted under a busy worker, the CRM still got every account once, with its tier",
        not problems,
        "; ".join(problems) or f"{len(expected)} accounts; the worker {seen}",
    )
    checks.check(
        "nothing went to the dead letter under the busy worker",
        not OutboxEntry.objects.filter(state=OutboxState.FAILED).exists(),
        str(common.outbox_states()),
    )
    passed, said = common.outbox_invariant(people.cycle.pk)
    checks.check("every change of that list is in the outbox", passed, said)


def _companies(s, expected) -> list[dict]:
    return [c for c in s.sandbox.companies() if c["properties"].get(KEY_PROPERTY) in expected]
