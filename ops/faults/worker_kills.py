"""A worker killed again and again during a big push: each account once in the CRM, latest tier.

1. Accord on a throw-away database, a redis-server of its own, the HubSpot sandbox; an agreed
   list of --accounts accounts; one Celery beat (the sweeper every second) and one worker.
   Accord sends at most --rate-limit requests per 10 s (so that the push lasts), and a worker's
   lease on what it pushes is --lease seconds (production: 300), so that the sweeper takes
   over a dead worker's entries quickly.
2. Ops ask for a push of the whole list (`sync_run_request_push`, as the sync page does).
3. --kills times: once the worker is sending, `kill -9` its whole process group (the main
   process and its pool) at a random moment within --kill-every seconds, agree tier changes
   of --changes accounts through the workflow (their outbox entries change while in flight),
   and start a new worker.
4. The last worker and the sweeper finish the push.

PASS when: each kill hit a push under way (entries in flight, the CRM not complete); the CRM
ends with every account of the list exactly once, each with its latest tier, and no other
company; no entry went to the dead letter; every change of the list is in the outbox (the
outbox's rule of `check_invariants`; the list is written in bulk, so the workflow's rules,
which need sign-offs and events, do not apply to it).
"""

from __future__ import annotations

import random
import time

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY
from ops.processes import beat, eventually, wait_for, worker


def add_arguments(parser) -> None:
    parser.add_argument("--accounts", type=int, default=500, help="on the list (docs: 10,000)")
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=2.0, help="at most, seconds")
    parser.add_argument("--changes", type=int, default=4, help="tier changes after each kill")
    parser.add_argument("--rate-limit", type=int, default=20, help="Accord's requests per 10 s")
    parser.add_argument(
        "--batches-per-claim", type=int, default=1, help="CRM_PUSH_BATCHES_PER_CLAIM (prod: 5)"
    )
    parser.add_argument("--lease", type=int, default=5, help="CRM_OUTBOX_LEASE_SECONDS")
    parser.add_argument("--timeout", type=float, default=600, help="for the push to complete")
    parser.add_argument("--seed", type=int, default=20261202)


def run(args, rig, checks) -> None:
    s = common.stack(
        args,
        rig,
        label="kills",
        HUBSPOT_RATE_LIMIT=str(args.rate_limit),
        CRM_OUTBOX_LEASE_SECONDS=str(args.lease),
        CRM_OUTBOX_SWEEP_AFTER_SECONDS="2",
        CRM_PUSH_BATCHES_PER_CLAIM=str(args.batches_per_claim),
    )
    from crm import services
    from crm.models import OutboxEntry, OutboxState

    rng = random.Random(args.seed)
    people = data.cast()
    accounts = data.agreed_list(people, args.accounts, queue=False)
    common.sweeper_every(1)
    rig.say(f"{len(accounts)} accounts on the list; starting beat and a worker")
    rig.add(beat(s.env, rig.directory)).start()
    current = rig.add(worker(s.env, rig.directory)).start()
    started = time.monotonic()
    run = services.sync_run_request_push(by=people.ops, cycle=people.cycle)
    rig.say(f"Ops asked for a push of the whole list (run {run.pk})")

    expected = data.expected_tiers(people.cycle)
    kills = []
    changed = 0
    for n in range(1, args.kills + 1):
        expected = data.expected_tiers(people.cycle)
        writes = s.sandbox.counters()["write_requests"]
        wait_for(
            lambda writes=writes: s.sandbox.counters()["write_requests"] > writes,
            timeout=120,
            what=f"worker {n} to send",
        )
        time.sleep(rng.uniform(0.2, args.kill_every))
        in_flight = OutboxEntry.objects.filter(state=OutboxState.IN_FLIGHT).count()
        held = len(s.sandbox.companies())
        current.kill()
        kills.append(
            {"at_s": round(time.monotonic() - started, 1), "in_flight": in_flight, "crm_held": held}
        )
        rig.say(
            f"kill -9 worker {n}: {in_flight} entries in flight, the CRM holds {held} of "
            f"{len(accounts)}"
        )
        for account in rng.sample(accounts, args.changes):
            now = int(expected[str(account.key)].removeprefix("tier_"))
            data.change_tier(people, account, rng.choice([t for t in (1, 2, 3) if t != now]))
            changed += 1
        expected = data.expected_tiers(people.cycle)
        current = rig.add(worker(s.env, rig.directory)).start()

    rig.say(f"{changed} tier changes agreed during the kills; the last worker finishes the push")

    def complete() -> bool:
        return not common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)

    eventually(complete, timeout=args.timeout, interval=1.0)
    took = time.monotonic() - started
    eventually(
        lambda: not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists(), timeout=120
    )
    rig.say(f"The push ended {took:.1f} s after it was asked for")
    counters = s.sandbox.counters()
    checks.figure("accounts", len(accounts))
    checks.figure("kills", kills)
    checks.figure("tier_changes", changed)
    checks.figure("seconds", round(took, 1))
    checks.figure(
        "crm",
        {
            "write_requests": counters["write_requests"],
            "records_created": counters["records_created"],
            "records_updated": counters["records_updated"],
        },
    )
    checks.figure(
        "most_attempts", max(OutboxEntry.objects.values_list("attempts", flat=True), default=0)
    )
    checks.check(
        "each kill hit the push under way",
        len(kills) == args.kills
        and all(k["in_flight"] > 0 and k["crm_held"] < len(accounts) for k in kills),
        "; ".join(f"{k['in_flight']} in flight, {k['crm_held']} in the CRM" for k in kills),
    )
    problems = common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)
    checks.check(
        "the CRM holds each account exactly once, with its latest tier",
        not problems and counters["records_created"] == len(accounts),
        "; ".join(problems)
        or f"{len(expected)} accounts, {counters['records_created']} companies created",
    )
    checks.check(
        "nothing went to the dead letter",
        not OutboxEntry.objects.filter(state=OutboxState.FAILED).exists(),
        str(common.outbox_states()),
    )
    passed, said = common.outbox_invariant(people.cycle.pk)
    checks.check("every change of the list is in the outbox (check_invariants' rule)", passed, said)
