"""The workflow's invariants, checked against the database as it is: after a load or a fault
test (`manage.py check_invariants`), or by an operator who suspects something is wrong.

Each check returns a list of violations, one sentence each; an empty list is a pass. The checks
read every nomination of the cycles they are given, in a few queries, and assemble in Python:
they are for tests and audits, not for a web request.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import pairwise

from django.db.models import Count

from core.roles import Side
from workflow.models import (
    QUORUM_FIELDS,
    Cycle,
    CycleAction,
    CycleEvent,
    Decision,
    EventAction,
    Nomination,
    NominationEvent,
    NominationKind,
    SignOff,
    State,
    TargetAccount,
)

# Events written by a person's decision, one per sign-off that is not the proposer's own.
DECISION_ACTIONS = {
    Decision.APPROVE: EventAction.APPROVED_BY,
    Decision.REJECT: EventAction.REJECTED_BY,
    Decision.REQUEST_CHANGES: EventAction.CHANGES_REQUESTED_BY,
}
# The event each final state is entered by, exactly once.
FINAL_ACTIONS = {
    State.APPROVED: EventAction.AGREED,
    State.REJECTED: EventAction.REJECTED_BY,
    State.WITHDRAWN: EventAction.WITHDRAWN,
}


def sign_offs_are_neither_lost_nor_doubled(nominations) -> list[str]:
    """One sign-off per person and round, and one decision event for each sign-off."""
    problems = []
    doubled = (
        SignOff.objects.filter(nomination__in=nominations)
        .values("nomination_id", "round", "person_id")
        .annotate(n=Count("pk"))
        .filter(n__gt=1)
    )
    for row in doubled:
        problems.append(
            f"Nomination {row['nomination_id']}: person {row['person_id']} signed round "
            f"{row['round']} {row['n']} times."
        )
    signed = Counter(
        (n, r, p, DECISION_ACTIONS[d])
        for n, r, p, d in SignOff.objects.filter(
            nomination__in=nominations, by_submission=False
        ).values_list("nomination_id", "round", "person_id", "decision")
    )
    logged = Counter(
        NominationEvent.objects.filter(
            nomination__in=nominations, action__in=DECISION_ACTIONS.values()
        ).values_list("nomination_id", "round", "actor_id", "action")
    )
    for key in signed.keys() | logged.keys():
        if signed[key] != logged[key]:
            nomination, round_, person, action = key
            problems.append(
                f"Nomination {nomination}, round {round_}: person {person} has "
                f"{signed[key]} sign-off(s) but {logged[key]} '{action}' event(s)."
            )
    return problems


def approved_means_both_sides_at_quorum(nominations) -> list[str]:
    """Approved ⇔ each side's distinct approvers in the current round reach the cycle's
    quorum — for an approved one, the quorum in force when it was approved (a quorum raised
    later does not undo an agreement) — and a nomination in review at quorum on both sides
    should have been approved."""
    approvals: dict[int, Counter] = defaultdict(Counter)
    rows = (
        SignOff.objects.filter(nomination__in=nominations, decision=Decision.APPROVE)
        .values_list("nomination_id", "round", "side")
        .annotate(n=Count("person", distinct=True))
    )
    rounds = dict(nominations.values_list("pk", "round"))
    for nomination, round_, side, n in rows:
        if rounds.get(nomination) == round_:
            approvals[nomination][side] += n
    problems = []
    changes = _quorum_changes(nominations)
    for n in nominations.filter(state__in=[State.APPROVED, State.IN_REVIEW]).select_related(
        "cycle"
    ):
        quorums = {side: _quorum_when_decided(n, side, changes) for side in Side}
        at_quorum = all(approvals[n.pk][side] >= quorums[side] for side in Side)
        if n.state == State.APPROVED and not at_quorum:
            problems.append(
                f"Nomination {n.pk} is approved but round {n.round} has "
                f"{dict(approvals[n.pk])} approvals against quorums "
                f"{ {side.value: quorum for side, quorum in quorums.items()} }."
            )
        if n.state == State.IN_REVIEW and at_quorum:
            problems.append(
                f"Nomination {n.pk} is in review with both sides at quorum in round {n.round}."
            )
    return problems


# Each side by the name of its quorum field, as settings events name it.
_SIDE_OF_FIELD = {field: side for side, field in QUORUM_FIELDS.items()}


def _quorum_changes(nominations) -> dict[int, list[tuple]]:
    """{cycle id: [(when, side, the quorum before)]}, oldest first: a cycle's quorums change
    mid-review (workflow.services.cycle_update), each change in its settings events."""
    changes: dict[int, list[tuple]] = defaultdict(list)
    for cycle_id, when, rows in (
        CycleEvent.objects.filter(
            cycle__in=nominations.values("cycle_id"), action=CycleAction.SETTINGS_CHANGED
        )
        .order_by("created_at", "pk")
        .values_list("cycle_id", "created_at", "changes")
    ):
        for row in rows:
            if row["field"] in _SIDE_OF_FIELD:
                changes[cycle_id].append((when, _SIDE_OF_FIELD[row["field"]], row["old"]))
    return changes


def _quorum_when_decided(n: Nomination, side: Side, changes) -> int:
    """A side's quorum in force when `n` was approved (today's for one still in review)."""
    if n.state == State.APPROVED and n.decided_at is not None:
        for when, changed, before in changes.get(n.cycle_id, []):
            if changed == side and when > n.decided_at:
                return before
    return n.cycle.quorum(side)


def events_follow_the_states(nominations) -> list[str]:
    """The events of each nomination chain (each starts where the one before ended), end in
    its current state, and a final state is entered by exactly one event."""
    chains: dict[int, list] = defaultdict(list)
    for row in (
        NominationEvent.objects.filter(nomination__in=nominations)
        .order_by("nomination_id", "created_at", "pk")
        .values_list("nomination_id", "action", "from_state", "to_state")
    ):
        chains[row[0]].append(row[1:])
    problems = []
    for n in nominations.only("pk", "state"):
        chain = chains.get(n.pk, [])
        if not chain:
            problems.append(f"Nomination {n.pk} has no events.")
            continue
        for (action, _, left), (next_action, starts, _) in pairwise(chain):
            if starts != left:
                problems.append(
                    f"Nomination {n.pk}: '{next_action}' starts from {starts} but "
                    f"'{action}' left it {left}."
                )
        if chain[-1][2] != n.state:
            problems.append(
                f"Nomination {n.pk} is {n.state} but its last event says {chain[-1][2]}."
            )
        if n.state in FINAL_ACTIONS:
            entered = [a for a, before, after in chain if after == n.state and before != n.state]
            if entered != [FINAL_ACTIONS[n.state]]:
                problems.append(f"Nomination {n.pk} entered {n.state} by {entered or 'no event'}.")
    return problems


def the_list_is_the_approved_changes(cycle: Cycle) -> list[str]:
    """The cycle's list (entries not removed) is its approved additions, tier changes and
    removals, applied in the order they were decided."""
    expected: dict[int, int] = {}
    for account, kind, tier in (
        Nomination.objects.filter(cycle=cycle, state=State.APPROVED)
        .order_by("decided_at", "pk")
        .values_list("account_id", "kind", "tier")
    ):
        if kind == NominationKind.REMOVE:
            expected.pop(account, None)
        else:
            expected[account] = tier
    actual = dict(
        TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True).values_list(
            "account_id", "tier"
        )
    )
    problems = []
    for account in expected.keys() | actual.keys():
        if expected.get(account) != actual.get(account):
            problems.append(
                f"{cycle.name}: account {account} should be "
                f"{_where(expected.get(account))} but is {_where(actual.get(account))}."
            )
    return problems


def _where(tier: int | None) -> str:
    return "off the list" if tier is None else f"in tier {tier}"


def violations(cycles=None) -> list[str]:
    """Every workflow invariant over the given cycles (default: all)."""
    cycles = list(cycles if cycles is not None else Cycle.objects.order_by("pk"))
    nominations = Nomination.objects.filter(cycle__in=cycles)
    problems = [
        *sign_offs_are_neither_lost_nor_doubled(nominations),
        *approved_means_both_sides_at_quorum(nominations),
        *events_follow_the_states(nominations),
    ]
    for cycle in cycles:
        problems += the_list_is_the_approved_changes(cycle)
    return problems
