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

import time

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY, beat, wait_for, worker


def add_arguments(parser) -> None:
    parser.add_argument("--accounts", type=int, default=40, help="approvals queued")
    parser.add_argument("--sweep-every", type=int, default=2, help="the sweeper's interval, s")
    parser.add_argument("--timeout", type=float, default=300, help="for the CRM to be complete")


def run(args, rig, checks) -> None:
    s = common.stack(args, rig, label="redis", CRM_OUTBOX_SWEEP_AFTER_SECONDS="5")
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
    rig.add(worker(s.env, rig.directory)).start()
    rig.add(beat(s.env, rig.directory)).start()
    expected = data.expected_tiers(people.cycle)

    def complete() -> bool:
        return not common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)

    wait_for(complete, timeout=args.timeout, interval=0.5, what="the CRM to hold every account")
    took = time.monotonic() - started
    rig.say(f"The CRM holds every account {took:.1f} s after the worker and beat were started")
    checks.figure("accounts", len(nominations))
    checks.figure("seconds_to_deliver_after_start", round(took, 1))
    wait_for(
        lambda: not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists(),
        timeout=60,
        what="every outbox entry to be settled",
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
