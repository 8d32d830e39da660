"""The CRM down for ten minutes (simulated clock): all delivered, dead letters only at the last try.

The outbox's timing runs on a simulated clock (ops/faults/clock.py stands in for Django's
`timezone.now`), so an outage of minutes or hours takes seconds. Everything else is real:
PostgreSQL, the workflow's services, the HubSpot adapter over HTTP to the sandbox, whose port
is closed while the CRM is "down" (requests refused; --down-as 503 answers 503 instead). The
script is the worker and beat: an approval's push runs in its process as soon as it commits
(Celery's in-process mode), and the sweeper runs as beat runs it, every simulated minute (a
minute in which no entry is due is skipped: its sweep would find nothing). The outbox's
settings are production's (CRM_OUTBOX_RETRY_BASE_SECONDS 60, doubling up to 3,600,
CRM_OUTBOX_MAX_ATTEMPTS 8); only the transport's own retries inside one attempt (1 s to 30 s
apart, real time) are shortened to milliseconds.

1. The CRM goes down; --accounts nominations are agreed (each push fails and is retried later).
2. At minute --changes-at, --changes of them change tier (still down).
3. After --outage-minutes the CRM comes back; the sweeper goes on until everything is delivered.
4. The same with --long-outage-hours, longer than the attempts last: every entry becomes a
   dead letter at its last attempt; the CRM comes back; ops retry the dead letters (the
   admin's action, `outbox_retry`) and they are delivered.

PASS when: nothing reached the CRM while it was down; after the short outage every account
is in the CRM once with its latest tier and no entry went to the dead letter; in the long one
no entry went to the dead letter before its CRM_OUTBOX_MAX_ATTEMPTS-th attempt, all did at
it, and after ops' retry the CRM holds those accounts too; `check_invariants` passes.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta

from ops.faults import common, data
from ops.faults.rig import KEY_PROPERTY

MINUTE = 60


def add_arguments(parser) -> None:
    parser.add_argument("--accounts", type=int, default=30, help="approvals during the outage")
    parser.add_argument("--outage-minutes", type=float, default=10)
    parser.add_argument("--changes", type=int, default=10, help="tier changes during it")
    parser.add_argument("--changes-at", type=float, default=5, help="minute of the changes")
    parser.add_argument("--long-outage-hours", type=float, default=4)
    parser.add_argument("--long-accounts", type=int, default=10)
    parser.add_argument("--down-as", choices=("refused", "503"), default="refused")


def run(args, rig, checks) -> None:
    s = common.stack(
        args,
        rig,
        label="outage",
        CELERY_BROKER_URL="",  # tasks run in the script's process: it is the worker
        CRM_RATE_LIMIT_REDIS_URL="",
        CRM_RETRY_BASE_SECONDS="0.005",
        CRM_RETRY_MAX_SECONDS="0.02",
    )
    from django.conf import settings

    from ops.faults.clock import fake_clock

    people = data.cast()
    short = data.prospects(args.accounts, prefix="outage")
    long = data.prospects(args.long_accounts, prefix="long-outage")
    limit = settings.CRM_OUTBOX_MAX_ATTEMPTS
    checks.figure("max_attempts", limit)
    with fake_clock() as clock:
        outage = Outage(rig, s.sandbox, clock, args.down_as)
        _short(args, rig, checks, people=people, accounts=short, outage=outage, limit=limit)
        _long(args, rig, checks, people=people, accounts=long, outage=outage, limit=limit)
    passed, said = common.invariants(people.cycle.pk)
    checks.check("check_invariants passes", passed, said)


class Outage:
    """The CRM's state and the simulated minutes, with what each sweep saw."""

    def __init__(self, rig, sandbox, clock, down_as: str):
        self.rig, self.sandbox, self.clock, self.down_as = rig, sandbox, clock, down_as
        self.began = clock.now()
        self.early_dead: list[tuple[int, int]] = []  # (entry, attempts) dead too soon

    def minutes(self) -> float:
        return (self.clock.now() - self.began).total_seconds() / MINUTE

    def down(self) -> None:
        self.began = self.clock.now()
        if self.down_as == "503":
            self.sandbox.handle.set_faults(rate_503=1.0, path="/crm/")
        else:
            self.sandbox.go_down()
        self.rig.say("The CRM is down")

    def up(self) -> None:
        if self.down_as == "503":
            self.sandbox.handle.clear_faults()
        else:
            self.sandbox.come_back()
        self.rig.say(f"The CRM is back after {self.minutes():.0f} simulated minutes")

    def sweep_until(self, *, minutes: float, accounts, limit: int, stop_when_settled=False):
        """Beat's sweeper every simulated minute until `minutes` after the outage began (or
        until every entry of `accounts` is delivered or dead, when `stop_when_settled`)."""
        from crm import tasks
        from crm.models import OutboxEntry, OutboxState

        entries = OutboxEntry.objects.filter(account__in=accounts)
        while self.minutes() < minutes:
            if (
                stop_when_settled
                and not entries.exclude(
                    state__in=[OutboxState.DELIVERED, OutboxState.FAILED]
                ).exists()
            ):
                return
            self.clock.advance(self._to_next_tick(entries, minutes))
            tasks.sweep_outbox()
            self.early_dead += list(
                entries.filter(state=OutboxState.FAILED, attempts__lt=limit).values_list(
                    "pk", "attempts"
                )
            )

    def _to_next_tick(self, entries, until_minute: float) -> float:
        """Seconds to the next beat tick at which an entry is due (at least one minute)."""
        from django.db.models import Min

        from crm.models import OutboxState

        due = entries.filter(state=OutboxState.PENDING).aggregate(at=Min("next_attempt_at"))["at"]
        end = self.began + timedelta(minutes=until_minute)
        target = min(due, end) if due is not None else end
        seconds = max(MINUTE, (target - self.clock.now()).total_seconds())
        return MINUTE * -(-seconds // MINUTE)  # up to whole minutes: beat ticks every minute


def _held(sandbox, accounts) -> int:
    keys = {str(a.key) for a in accounts}
    with contextlib.suppress(Exception):
        return sum(1 for c in sandbox.companies() if c["properties"].get(KEY_PROPERTY) in keys)
    return 0


def _short(args, rig, checks, *, people, accounts, outage, limit) -> None:
    from crm.models import OutboxEntry, OutboxState
    from workflow.models import TargetAccount

    outage.down()
    rig.say(f"Agreeing {len(accounts)} nominations (each push fails) …")
    for i, account in enumerate(accounts):
        data.agree(people, data.propose(people, account, tier=1 + i % 3))
    entries = OutboxEntry.objects.filter(account__in=accounts)
    outage.sweep_until(minutes=args.changes_at, accounts=accounts, limit=limit)
    changed = accounts[: args.changes]
    for account in changed:
        tier = TargetAccount.objects.get(cycle=people.cycle, account=account).tier
        data.change_tier(people, account, 1 + tier % 3)
    rig.say(f"{len(changed)} tier changes agreed at minute {outage.minutes():.0f}")
    outage.sweep_until(minutes=args.outage_minutes, accounts=accounts, limit=limit)
    attempts_down = sorted(set(entries.values_list("attempts", flat=True)))
    states_down = common.outbox_states()
    outage.up()
    checks.check(
        f"nothing reached the CRM in {args.outage_minutes:.0f} minutes down",
        _held(outage.sandbox, accounts) == 0,
        f"attempts so far per entry: {attempts_down}; outbox {states_down}",
    )
    outage.sweep_until(
        minutes=args.outage_minutes + 24 * 60,
        accounts=accounts,
        limit=limit,
        stop_when_settled=True,
    )
    back = outage.minutes()
    delivered = max(entries.values_list("delivered_at", flat=True))
    after = (delivered - outage.began).total_seconds() / MINUTE - args.outage_minutes
    rig.say(f"Everything settled at minute {back:.0f}")
    checks.figure(
        "short_outage",
        {
            "accounts": len(accounts),
            "tier_changes": len(changed),
            "outage_minutes": args.outage_minutes,
            "attempts_while_down": attempts_down,
            "most_attempts": max(entries.values_list("attempts", flat=True)),
            "all_delivered_minutes_after_return": round(after, 1),
            "crm_refusals": _refusals(outage),
        },
    )
    expected = {
        k: v
        for k, v in data.expected_tiers(people.cycle).items()
        if k in {str(a.key) for a in accounts}
    }
    problems = common.crm_problems(
        expected,
        [c for c in outage.sandbox.companies() if c["properties"].get(KEY_PROPERTY) in expected],
        key=KEY_PROPERTY,
    )
    checks.check(
        "after the short outage the CRM holds every account once, with its latest tier",
        not problems and entries.exclude(state=OutboxState.DELIVERED).count() == 0,
        "; ".join(problems)
        or f"{len(expected)} accounts, all delivered {after:.0f} simulated minutes after the "
        "CRM's return",
    )
    checks.check(
        "no entry went to the dead letter in the short outage",
        not entries.filter(state=OutboxState.FAILED).exists() and not outage.early_dead,
        str(common.outbox_states()),
    )


def _refusals(outage) -> dict:
    if outage.down_as == "503":
        return outage.sandbox.counters()["faults"]
    return {"refused connections": "not counted (the port was closed)"}


def _long(args, rig, checks, *, people, accounts, outage, limit) -> None:
    from crm import services
    from crm.models import OutboxEntry, OutboxState

    hours = args.long_outage_hours
    outage.down()
    for i, account in enumerate(accounts):
        data.agree(people, data.propose(people, account, tier=1 + i % 3))
    entries = OutboxEntry.objects.filter(account__in=accounts)
    outage.sweep_until(minutes=hours * 60, accounts=accounts, limit=limit, stop_when_settled=True)
    dead = list(entries.filter(state=OutboxState.FAILED).values_list("attempts", flat=True))
    rig.say(
        f"{len(dead)} of {len(accounts)} entries are dead letters at minute "
        f"{outage.minutes():.0f} of a {hours:g}-hour outage"
    )
    checks.check(
        f"in a {hours:g}-hour outage no entry went to the dead letter before attempt {limit}",
        not outage.early_dead,
        f"dead too early: {outage.early_dead[:5]}" if outage.early_dead else "none",
    )
    checks.check(
        f"every entry went to the dead letter at attempt {limit}",
        len(dead) == len(accounts) and set(dead) == {limit},
        f"{len(dead)} of {len(accounts)} dead, with attempts {sorted(set(dead))}",
    )
    checks.figure(
        "long_outage",
        {
            "accounts": len(accounts),
            "hours": hours,
            "dead_letters": len(dead),
            "all_dead_by_minute": round(outage.minutes()),
        },
    )
    outage.up()
    revived = services.outbox_retry(entries=entries.filter(state=OutboxState.FAILED), by=people.ops)
    rig.say(f"Ops retried {revived} dead letters")
    expected = {
        k: v
        for k, v in data.expected_tiers(people.cycle).items()
        if k in {str(a.key) for a in accounts}
    }
    problems = common.crm_problems(
        expected,
        [c for c in outage.sandbox.companies() if c["properties"].get(KEY_PROPERTY) in expected],
        key=KEY_PROPERTY,
    )
    checks.check(
        "after ops' retry the CRM holds those accounts too",
        not problems and not entries.exclude(state=OutboxState.DELIVERED).exists(),
        "; ".join(problems) or f"{len(expected)} accounts",
    )
