"""What a fault run starts with, written through Accord's services where the workflow matters
(people, the cycle, nominations, sign-offs, tier changes) and in bulk where only the size does
(a long agreed list: bench/common.py's approved nominations and list rows)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

PASSWORD = "accord-fault-run-password"  # the throw-away database's people only


@dataclass
class Cast:
    marketer: object  # proposes (a marketing approver: the proposal counts for marketing)
    seller: object  # signs off for sales
    ops: object
    cycle: object


def cast(*, capacity: int = 100_000, name: str = "FY27 H1") -> Cast:
    from workflow import services

    def person(username: str, role: str, approver: bool = False):
        user, _ = services.person_set_role(
            username=username, role=role, approver=approver, password=PASSWORD
        )
        return user

    marketer = person("fault-marketer", "marketing", approver=True)
    seller = person("fault-seller", "sales", approver=True)
    ops = person("fault-ops", "ops")
    cycle = services.cycle_create(
        name=name,
        starts_on=dt.date(2027, 1, 1),
        ends_on=dt.date(2027, 6, 30),
        by=ops,
        capacities={1: capacity, 2: capacity, 3: capacity},
    )
    return Cast(marketer=marketer, seller=seller, ops=ops, cycle=cycle)


def prospects(count: int, *, prefix: str) -> list:
    """Accounts off the list, in bulk."""
    from accounts_app.models import Account

    return Account.objects.bulk_create(
        (
            Account(name=f"{prefix} {i}", domain=f"{prefix}-{i}.example", industry="Software")
            for i in range(count)
        ),
        batch_size=2000,
    )


def agreed_list(people: Cast, count: int, *, prefix: str = "target", queue: bool = True) -> list:
    """`count` accounts on the cycle's list (tiers 1–3 in turn); with `queue`, queued for the
    CRM in bulk (`outbox.record_cycle`: the caller pushes, or the sweeper does)."""
    from bench.common import put_on_list
    from crm import outbox

    accounts = prospects(count, prefix=prefix)
    put_on_list(
        cycle=people.cycle,
        accounts=accounts,
        marketer=people.marketer,
        seller=people.seller,
        batch_size=2000,
    )
    if queue:
        outbox.record_cycle(cycle_id=people.cycle.pk)
    return accounts


def propose(people: Cast, account, *, kind: str = "add", tier: int | None = 1):
    """A nomination in review (marketing's proposal counts as marketing's approval)."""
    from workflow import services

    return services.nomination_create(
        cycle=people.cycle,
        account=account,
        kind=kind,
        tier=tier,
        rationale="Fault run",
        by=people.marketer,
        submit=True,
    )


def agree(people: Cast, nomination):
    """Sales signs off: both sides agree, the list changes, the change goes to the outbox."""
    from workflow import services

    return services.nomination_sign_off(nomination=nomination, by=people.seller, decision="approve")


def change_tier(people: Cast, account, tier: int):
    """A tier change agreed through the workflow."""
    return agree(people, propose(people, account, kind="change_tier", tier=tier))


def expected_tiers(cycle) -> dict[str, str]:
    """What the CRM must end with: each account on the list by its key, with its tier."""
    from workflow.models import TargetAccount

    return {
        str(key): f"tier_{tier}"
        for key, tier in TargetAccount.objects.filter(
            cycle=cycle, removed_at__isnull=True
        ).values_list("account__key", "tier")
    }
