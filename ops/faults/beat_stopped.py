"""Beat stopped for an hour: what waits for the sweeper waits in the outbox; it catches up.

1. Accord on a throw-away database, a redis-server of its own, the HubSpot sandbox (Accord at
   --rate-limit requests per 10 s, HubSpot's default 100); beat not running.
2. Changes whose push task never reached a worker: --accounts nominations agreed while Redis
   was down (each approval commits; its task cannot be queued), and --bulk list entries queued
   in bulk (`outbox.record_cycle`, which queues no task). Then a Celery worker starts.
3. Beat stays away --away seconds (real time) while the worker runs: nothing may move.
   Beat's database is then moved to what an absence of --hours leaves: the last run of every
   periodic task that long ago (with --away 3600 --hours 1, a real hour and nothing moved).
4. Beat starts (the sweeper's row as production seeds it, every 60 s; it takes changes older
   than --sweep-after seconds, production 60).

PASS when: while beat was away every change stayed pending and the CRM got none, the worker
idle and alive; once beat was back, the CRM held every account once with its tier, within
--catch-up-within seconds, none in the dead letter; every change of the list is in the outbox
(the outbox's rule of `check_invariants`; the bulk entries are not written through the
workflow, so its rules are not checked here).
"""

from __future__ import annotations

import time
from datetime import timedelta

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY
from ops.processes import beat, eventually, worker


def add_arguments(parser) -> None:
    parser.add_argument("--accounts", type=int, default=10, help="agreed while Redis was down")
    parser.add_argument("--bulk", type=int, default=490, help="queued with no task (docs: 10,000)")
    parser.add_argument("--away", type=float, default=3, help="real seconds beat stays away")
    parser.add_argument("--hours", type=float, default=1, help="the absence beat's rows show")
    parser.add_argument("--sweep-after", type=int, default=5, help="CRM_OUTBOX_SWEEP_AFTER_SECONDS")
    parser.add_argument("--rate-limit", type=int, default=100, help="Accord's requests per 10 s")
    parser.add_argument("--catch-up-within", type=float, default=120, help="seconds")


def run(args, rig, checks) -> None:
    s = common.stack(
        args,
        rig,
        label="beat",
        HUBSPOT_RATE_LIMIT=str(args.rate_limit),
        CRM_OUTBOX_SWEEP_AFTER_SECONDS=str(args.sweep_after),
    )
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    from crm.models import OutboxEntry, OutboxState, SyncRun

    people = data.cast()
    common.sweeper_every(60)
    data.agreed_list(people, args.bulk, prefix="bulk")
    proposals = [
        data.propose(people, account, tier=1 + i % 3)
        for i, account in enumerate(data.prospects(args.accounts, prefix="approved"))
    ]
    rig.say("Beat does not run; Redis goes down for the approvals …")
    s.redis.stop()
    for nomination in proposals:
        data.agree(people, nomination)
    s.redis.start()
    total = args.bulk + args.accounts
    # The worker starts once Redis is back: a worker whose Redis restarts under it is the
    # Redis fault's subject (kombu may leave its consumer dead, for the supervisor to restart).
    celery = rig.add(worker(s.env, rig.directory)).start()
    rig.say(f"{args.accounts} approvals made with Redis down; Redis is back, a worker runs")
    time.sleep(args.away)
    pending = OutboxEntry.objects.filter(state=OutboxState.PENDING).count()
    checks.check(
        f"with beat away ({args.away:g} s) every change stayed pending",
        pending == total and not s.sandbox.companies(),
        f"{pending} of {total} pending, {len(s.sandbox.companies())} in the CRM",
    )
    checks.check(
        "the worker stayed alive meanwhile (and idle)",
        celery.alive() and not celery.saw(r"crm\.tasks\.push_outbox\[[^\]]+\] received"),
        "alive" if celery.alive() else "exited",
    )
    moved = max(0.0, args.hours * 3600 - args.away)
    if moved:
        for task in PeriodicTask.objects.exclude(last_run_at=None):
            PeriodicTask.objects.filter(pk=task.pk).update(
                last_run_at=task.last_run_at - timedelta(seconds=moved)
            )
        PeriodicTask.objects.filter(last_run_at=None).update(
            last_run_at=timezone.now() - timedelta(seconds=moved)
        )
    rig.say(f"Beat's rows show an absence of {args.hours:g} h; starting beat …")
    started = time.monotonic()
    returned = rig.add(beat(s.env, rig.directory)).start()
    expected = data.expected_tiers(people.cycle)

    def complete() -> bool:
        return not common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)

    eventually(complete, timeout=max(args.catch_up_within, 60) * 3)
    took = time.monotonic() - started
    eventually(
        lambda: not OutboxEntry.objects.exclude(state=OutboxState.DELIVERED).exists(), timeout=60
    )
    sent = sorted(set(_sent_at_start(returned.output())))
    rig.say(f"The CRM holds all {total} accounts {took:.1f} s after beat started")
    runs = SyncRun.objects.filter(trigger="sweeper").count()
    checks.figure("changes", total)
    checks.figure("catch_up_seconds", round(took, 1))
    checks.figure("sweeper_runs", runs)
    checks.figure("beat_sent_at_start", sent)
    problems = common.crm_problems(expected, s.sandbox.companies(), key=KEY_PROPERTY)
    checks.check(
        f"beat back, the CRM held every account once with its tier within "
        f"{args.catch_up_within:g} s",
        not problems and took <= args.catch_up_within,
        "; ".join(problems) or f"{total} accounts in {took:.1f} s, {runs} sweeper run(s)",
    )
    checks.check(
        "nothing went to the dead letter",
        not OutboxEntry.objects.filter(state=OutboxState.FAILED).exists(),
        str(common.outbox_states()),
    )
    passed, said = common.outbox_invariant(people.cycle.pk)
    checks.check("every change of the list is in the outbox (check_invariants' rule)", passed, said)


def _sent_at_start(log: str) -> list[str]:
    import re

    return re.findall(r"Sending due task ([^(]+?) \(", log)
