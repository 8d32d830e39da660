"""A model-based test of the whole agreement workflow.

Hypothesis drives random proposals (add / change tier / remove), submissions, sign-offs
(approve / reject / request changes), resubmissions and withdrawals by random people of a cast
(approvers and non-approvers on both sides, ops, someone wrongly in both side groups), edits of
drafts, ops closing and reopening the cycle and changing its quorums and capacities
mid-review, on a few accounts of a cycle with small
capacities, random quorums and a random proposer rule. Every
call goes through the services. A DomainError is a valid refusal, but the model predicts which
calls must succeed and which must be refused, and a refusal must change nothing. After every
step it checks:

- approved ⇔ both sides at quorum from distinct people in the current round;
- nobody counts twice or for both sides, nobody counts without the right to;
- one event per transition, one event per sign-off, each nomination's events chain up to its
  state;
- the active list equals the approved additions minus the approved removals, tier changes
  applied, and no tier is over capacity;
- at most one submitted, open nomination per account (drafts do not count).

More examples: ACCORD_STATEFUL_EXAMPLES=500 pytest tests/workflow/test_workflow_state_machine.py
"""

import os
from collections import Counter, defaultdict

from django.contrib.auth.models import Group
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from core.errors import DomainError
from tests.factories import AccountFactory, cycle, person
from workflow import services
from workflow.models import (
    OPEN_STATES,
    SUBMITTED_OPEN_STATES,
    Decision,
    Nomination,
    NominationEvent,
    SignOff,
    State,
    TargetAccount,
)

SIDES = ("marketing", "sales")
# username, groups, approver
CAST = (
    ("mara", ("marketing",), True),
    ("milo", ("marketing",), True),
    ("maud", ("marketing",), True),
    ("mina", ("marketing",), False),
    ("sam", ("sales",), True),
    ("sara", ("sales",), True),
    ("seth", ("sales",), True),
    ("sid", ("sales",), False),
    ("olga", ("ops",), False),
    ("bo", ("marketing", "sales"), True),
)
ACCOUNTS = 4
DECISIONS = [d.value for d in Decision]

who = st.integers(0, len(CAST) - 1)
which = st.integers(0, 1_000)  # an index into the nominations made so far
# Most actions are aimed at a nomination in the right state and at someone who may act on it:
# purely random ones are nearly all refused, and the interesting states are never reached.
aimed = st.sampled_from([True, True, True, False])


class Person:
    def __init__(self, user, groups, approver):
        self.user = user
        sides = [g for g in groups if g in SIDES]
        self.side = sides[0] if len(sides) == 1 else None  # on both sides: on neither
        self.approver = approver and self.side is not None


class Workflow(RuleBasedStateMachine):
    cast: list[Person] = []
    runs = 0

    @initialize(
        marketing_quorum=st.integers(1, 2),
        sales_quorum=st.integers(1, 2),
        proposer_counts=st.booleans(),
        capacities=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(0, 2)),
    )
    def start(self, marketing_quorum, sales_quorum, proposer_counts, capacities):
        # A fresh cycle and fresh accounts per example: earlier examples' rows stay in the
        # test's transaction, but every check below looks at this cycle only.
        Workflow.runs += 1
        self.cycle = cycle(
            f"Run {Workflow.runs}",
            capacities=capacities,
            marketing_quorum=marketing_quorum,
            sales_quorum=sales_quorum,
            proposer_counts=proposer_counts,
        )
        self.capacity = dict(enumerate(capacities, start=1))
        self.accounts = [AccountFactory() for _ in range(ACCOUNTS)]
        self.people = {p.user.pk: p for p in self.cast}
        self.states: dict[int, str] = {}  # nomination id → state, as the model says
        self.account_of: dict[int, int] = {}  # nomination id → account id
        self.expected_list: dict[int, int] = {}  # account id → tier, as the model says
        self.transitions = 0
        self.decisions = 0
        self.closed = False  # a closed cycle's nominations are read-only
        self.approved_under: dict[int, dict] = {}  # nomination id → the quorums it met

    # --- the model -------------------------------------------------------------------------

    def pick(self, index, aim, states) -> Nomination:
        candidates = sorted(self.states)
        if aim:
            candidates = [pk for pk in candidates if self.states[pk] in states] or candidates
        return Nomination.objects.get(pk=candidates[index % len(candidates)])

    def moved(self, n: Nomination) -> str:
        """Note the nomination's new state after an accepted action."""
        self.states[n.pk] = Nomination.objects.values_list("state", flat=True).get(pk=n.pk)
        return self.states[n.pk]

    def signer(self, n, actor, who) -> Person:
        """Mostly an approver who may still decide in this round; sometimes anyone, sometimes
        the proposer (who may not)."""
        if who == "anyone":
            return self.cast[actor]
        if who == "proposer":
            return self.people[n.proposer_id]
        decided = set(
            SignOff.objects.filter(nomination=n, round=n.round).values_list("person_id", flat=True)
        )
        approvers = [p for p in self.cast if p.approver and p.user.pk != n.proposer_id]
        undecided = [p for p in approvers if p.user.pk not in decided] or approvers
        return undecided[actor % len(undecided)]

    def counting(self, n, sign_offs) -> dict[str, set[int]]:
        """Who counts for each side in the nomination's current round, by the rules."""
        counted = {side: set() for side in SIDES}
        for s in sign_offs:
            signer = self.people[s["person_id"]]
            if s["round"] != n["round"] or s["decision"] != Decision.APPROVE:
                continue
            if not signer.approver or signer.side != s["side"]:
                continue
            if s["person_id"] == n["proposer_id"] and not (
                s["by_submission"]
                and self.cycle.proposer_counts
                and s["side"] == n["proposer_side"]
            ):
                continue
            counted[s["side"]].add(s["person_id"])
        return counted

    def quorums(self) -> dict[str, int]:
        return {side: self.cycle.quorum(side) for side in SIDES}

    def at_quorum(self, counted, quorums=None) -> bool:
        quorums = quorums or self.quorums()
        return all(len(counted[side]) >= quorums[side] for side in SIDES)

    def busy(self) -> set[int]:
        """Accounts with a submitted, open nomination: a draft blocks nobody."""
        return {
            self.account_of[pk]
            for pk, state in self.states.items()
            if state in SUBMITTED_OPEN_STATES
        }

    def fits_the_list(self, kind: str, account_id: int, tier) -> bool:
        on_list = self.active().get(account_id)
        return (on_list is None if kind == "add" else on_list is not None) and not (
            kind == "change_tier" and on_list == tier
        )

    def active(self) -> dict[int, int]:
        rows = TargetAccount.objects.filter(cycle=self.cycle, removed_at__isnull=True)
        return dict(rows.values_list("account_id", "tier"))

    def fingerprint(self):
        return (
            sorted(
                Nomination.objects.filter(cycle=self.cycle).values_list(
                    "pk", "state", "round", "tier"
                )
            ),
            SignOff.objects.filter(nomination__cycle=self.cycle).count(),
            NominationEvent.objects.filter(nomination__cycle=self.cycle).count(),
            sorted(
                TargetAccount.objects.filter(cycle=self.cycle).values_list(
                    "pk", "tier", "removed_at"
                )
            ),
        )

    def attempt(self, expect_ok: bool, call):
        """Run a service call: it must succeed when the model says it may, and otherwise be
        refused with a DomainError having changed nothing."""
        before = self.fingerprint()
        try:
            result = call()
        except DomainError as error:
            assert not expect_ok, f"refused an allowed action: {error.message}"
            assert self.fingerprint() == before, "a refused action changed something"
            return None
        assert expect_ok, "allowed an action the rules forbid"
        return result

    # --- rules -----------------------------------------------------------------------------

    @rule(
        actor=who,
        account=st.integers(0, ACCOUNTS - 1),
        kind=st.sampled_from(["add", "change_tier", "remove"]),
        tier=st.integers(1, 3),
        aim=aimed,
        submit=aimed,
    )
    def propose(self, actor, account, kind, tier, aim, submit):
        p = self.cast[actor]
        busy = self.busy()
        free = [a for a in self.accounts if a.pk not in busy]
        account = (
            (free or self.accounts)[account % len(free or self.accounts)]
            if aim
            else (self.accounts[account])
        )
        on_list = self.active().get(account.pk)
        if aim:  # a kind that fits: add it if it is off the list, else move or remove it
            kind = "add" if on_list is None else ("remove" if kind == "remove" else "change_tier")
        ok = (
            not self.closed
            and p.side is not None
            and account.pk not in busy
            and (on_list is None if kind == "add" else on_list is not None)
            and not (kind == "change_tier" and on_list == tier)
        )
        n = self.attempt(
            ok,
            lambda: services.nomination_create(
                cycle=self.cycle,
                account=account,
                kind=kind,
                tier=None if kind == "remove" else tier,
                rationale="Random but reasoned",
                by=p.user,
                submit=submit,
            ),
        )
        if n is not None:
            self.account_of[n.pk] = account.pk
            self.moved(n)
            self.transitions += 2 if submit else 1

    @precondition(lambda self: any(s in OPEN_STATES for s in self.states.values()))
    @rule(
        action=st.sampled_from(["submit", "submit", "resubmit", "resubmit", "withdraw"]),
        actor=who,
        index=which,
        aim=aimed,
        tier=st.none() | st.integers(1, 3),
    )
    def proposer_acts(self, action, actor, index, aim, tier):
        """Submit a draft, resubmit after a request for changes, or withdraw."""
        wanted = {
            "submit": [State.DRAFT],
            "resubmit": [State.CHANGES_REQUESTED],
            "withdraw": OPEN_STATES,
        }[action]
        n = self.pick(index, aim, wanted)
        p = self.people[n.proposer_id] if aim else self.cast[actor]
        ok = not self.closed and n.proposer_id == p.user.pk and n.state in wanted
        if action == "submit":  # a draft may lack a rationale; submitting needs one
            ok = ok and p.side is not None and bool(n.rationale)
            # Another nomination of the account may have been submitted, even agreed, since.
            ok = ok and n.account_id not in self.busy()
            ok = ok and self.fits_the_list(n.kind, n.account_id, n.tier)
            call = lambda: services.nomination_submit(nomination=n, by=p.user)  # noqa: E731
        elif action == "resubmit":
            on_list = self.active().get(n.account_id)
            new_tier = tier if (tier is not None and n.kind != "remove") else n.tier
            ok = ok and p.side is not None
            ok = ok and not (n.kind == "change_tier" and on_list == new_tier)
            call = lambda: services.nomination_resubmit(  # noqa: E731
                nomination=n, by=p.user, tier=tier
            )
        else:
            call = lambda: services.nomination_withdraw(nomination=n, by=p.user)  # noqa: E731
        if self.attempt(ok, call):
            self.moved(n)
            self.transitions += 1

    @precondition(lambda self: State.IN_REVIEW in self.states.values())
    @rule(
        actor=who,
        index=which,
        aim=aimed,
        signer=st.sampled_from(["approver", "approver", "approver", "anyone", "proposer"]),
        decision=st.sampled_from(DECISIONS),
        note=st.sampled_from(["", "Because of the numbers"]),
    )
    def sign_off(self, actor, index, aim, signer, decision, note):
        n = self.pick(index, aim, [State.IN_REVIEW])
        self._sign_off(n, self.signer(n, actor, signer), decision, note)

    @precondition(lambda self: State.IN_REVIEW in self.states.values())
    @rule(actor=who, index=which)
    def approve(self, actor, index):
        """Approvals are what move the list: give them their own, always aimed, rule."""
        n = self.pick(index, True, [State.IN_REVIEW])
        self._sign_off(n, self.signer(n, actor, "approver"), Decision.APPROVE, "")

    def _sign_off(self, n: Nomination, p: Person, decision: str, note: str):
        decided = SignOff.objects.filter(nomination=n, round=n.round, person=p.user).exists()
        ok = (
            not self.closed
            and p.approver
            and n.state == State.IN_REVIEW
            and n.proposer_id != p.user.pk
            and not decided
            and (decision == Decision.APPROVE or bool(note))
        )
        completes = False
        if ok and decision == Decision.APPROVE:
            row = {
                "round": n.round,
                "proposer_id": n.proposer_id,
                "proposer_side": n.proposer_side,
            }
            counted = self.counting(row, SignOff.objects.filter(nomination=n).values())
            counted[p.side].add(p.user.pk)
            completes = self.at_quorum(counted)
            if completes and n.kind != "remove":
                used = sum(1 for tier in self.active().values() if tier == n.tier)
                ok = used < self.capacity[n.tier]  # otherwise refused: the tier is full
        done = self.attempt(
            ok,
            lambda: services.nomination_sign_off(
                nomination=n, by=p.user, decision=decision, note=note
            ),
        )
        if done is None:
            return
        self.decisions += 1
        state = self.moved(n)
        assert (
            state
            == {
                Decision.APPROVE: State.APPROVED if completes else State.IN_REVIEW,
                Decision.REJECT: State.REJECTED,
                Decision.REQUEST_CHANGES: State.CHANGES_REQUESTED,
            }[decision]
        )
        if state != State.IN_REVIEW:
            self.transitions += 1
        if state == State.APPROVED:
            self.agreed(n)

    def agreed(self, n: Nomination) -> None:
        self.approved_under[n.pk] = self.quorums()
        if n.kind == "remove":
            del self.expected_list[n.account_id]
        else:
            self.expected_list[n.account_id] = n.tier

    @rule(
        actor=who,
        what=st.sampled_from(["quorum", "quorum", "capacity"]),
        side=st.sampled_from(SIDES),
        quorum=st.integers(1, 3),
        tier=st.integers(1, 3),
        capacity=st.integers(0, 4),
    )
    def ops_change_settings(self, actor, what, side, quorum, tier, capacity):
        """Ops change a quorum or a tier's capacity mid-review. A capacity never goes below the
        accounts on the tier. A lowered quorum approves, longest waiting first, what both sides
        now agree on, or is refused as a whole if the list refuses one of them (a full tier);
        a closed cycle's quorums do not change."""
        p = (
            self.cast[actor]
            if actor % 3
            else next(c for c in self.cast if c.user.username == "olga")
        )
        is_ops = p.user.username == "olga"
        now_agreed = []
        if what == "capacity":
            used = sum(1 for t in self.active().values() if t == tier)
            ok = is_ops and capacity >= used
            call = lambda: services.cycle_update(  # noqa: E731
                cycle=self.cycle, by=p.user, tiers={tier: {"capacity": capacity}}
            )
        else:
            field = f"{side}_quorum"
            old = self.cycle.quorum(side)
            ok = is_ops and not (self.closed and quorum != old)
            if ok and quorum < old:
                quorums = self.quorums() | {side: quorum}
                sign_offs = defaultdict(list)
                for s in SignOff.objects.filter(nomination__cycle=self.cycle).values():
                    sign_offs[s["nomination_id"]].append(s)
                active = self.active()
                used = Counter(active.values())
                for n in Nomination.objects.filter(
                    cycle=self.cycle, state=State.IN_REVIEW
                ).order_by("waiting_since", "pk"):
                    row = {"round": n.round, "proposer_id": n.proposer_id,
                           "proposer_side": n.proposer_side}  # fmt: skip
                    if not self.at_quorum(self.counting(row, sign_offs[n.pk]), quorums):
                        continue
                    now_agreed.append(n)
                    if n.kind == "remove":
                        used[active.pop(n.account_id)] -= 1
                        continue
                    moving = n.kind == "change_tier" and active.get(n.account_id) != n.tier
                    if n.kind == "add" or moving:
                        if used[n.tier] >= self.capacity[n.tier]:
                            ok = False  # the list refuses it: the whole change is refused
                            break
                        if moving:
                            used[active[n.account_id]] -= 1
                        used[n.tier] += 1
                        active[n.account_id] = n.tier
            call = lambda: services.cycle_update(  # noqa: E731
                cycle=self.cycle, by=p.user, **{field: quorum}
            )
        if self.attempt(ok, call) is None:
            return
        self.cycle.refresh_from_db()
        if what == "capacity":
            self.capacity[tier] = capacity
        for n in now_agreed:
            assert self.moved(n) == State.APPROVED
            self.transitions += 1
            self.agreed(n)

    @precondition(lambda self: State.DRAFT in self.states.values())
    @rule(
        actor=who,
        index=which,
        aim=aimed,
        tier=st.none() | st.integers(1, 3),
        rationale=st.sampled_from([None, "Better reasons", ""]),
    )
    def edit_draft(self, actor, index, aim, tier, rationale):
        """The proposer edits a draft: its tier (an addition's) and rationale (a draft may
        have none); nobody else may, nor once it is submitted."""
        n = self.pick(index, aim, [State.DRAFT])
        p = self.people[n.proposer_id] if aim else self.cast[actor]
        tier = tier if n.kind == "add" else None
        ok = not self.closed and n.proposer_id == p.user.pk and n.state == State.DRAFT
        done = self.attempt(
            ok,
            lambda: services.nomination_update(
                nomination=n, by=p.user, tier=tier, rationale=rationale
            ),
        )
        if done is not None:
            edited = Nomination.objects.get(pk=n.pk)
            assert edited.tier == (tier if tier is not None else n.tier)
            assert edited.rationale == (rationale if rationale is not None else n.rationale)

    @rule(actor=who, reopen_reason=st.sampled_from(["", "Planning was cut short"]))
    def ops_close_or_reopen(self, actor, reopen_reason):
        """Ops close the cycle (its open nominations become read-only) or reopen it, which
        needs a reason; nobody else may."""
        p = (
            self.cast[actor]
            if actor % 3
            else next(c for c in self.cast if c.user.username == "olga")
        )
        is_ops = p.user.username == "olga"
        target = "active" if self.closed else "closed"
        ok = is_ops and (not self.closed or bool(reopen_reason))
        done = self.attempt(
            ok,
            lambda: services.cycle_set_state(
                cycle=self.cycle, state=target, by=p.user, reason=reopen_reason
            ),
        )
        if done is not None:
            self.closed = not self.closed
            self.cycle.refresh_from_db()

    # --- invariants ------------------------------------------------------------------------

    @invariant()
    def the_rules_hold(self):
        nominations = {
            n["pk"]: n
            for n in Nomination.objects.filter(cycle=self.cycle).values(
                "pk", "state", "round", "kind", "tier", "account_id", "proposer_id",
                "proposer_side",
            )
        }  # fmt: skip
        sign_offs = list(SignOff.objects.filter(nomination__cycle=self.cycle).values())
        events = list(
            NominationEvent.objects.filter(nomination__cycle=self.cycle).order_by("pk").values()
        )
        active = self.active()
        assert {pk: n["state"] for pk, n in nominations.items()} == self.states
        self.approved_exactly_at_quorum(nominations, sign_offs)
        self.nobody_counts_twice_or_for_both_sides(nominations, sign_offs)
        self.one_event_per_transition_and_per_sign_off(nominations, sign_offs, events)
        self.the_list_is_what_was_agreed(nominations, events, active)
        self.no_tier_over_capacity(active)
        self.one_open_nomination_per_account(nominations)

    def approved_exactly_at_quorum(self, nominations, sign_offs):
        by_nomination = defaultdict(list)
        for s in sign_offs:
            by_nomination[s["nomination_id"]].append(s)
        for pk, n in nominations.items():
            # An approval is judged by the quorums it met; a quorum raised later changes
            # nothing agreed.
            quorums = self.approved_under.get(pk) if n["state"] == State.APPROVED else None
            at_quorum = self.at_quorum(self.counting(n, by_nomination[pk]), quorums)
            assert (n["state"] == State.APPROVED) == at_quorum, (pk, n["state"], at_quorum)

    def nobody_counts_twice_or_for_both_sides(self, nominations, sign_offs):
        seen = Counter()
        for s in sign_offs:
            signer = self.people[s["person_id"]]
            seen[(s["nomination_id"], s["round"], s["person_id"])] += 1
            assert signer.side == s["side"], "signed for a side that is not theirs"
            assert signer.approver, "a sign-off from someone who may not sign off"
            if s["person_id"] == nominations[s["nomination_id"]]["proposer_id"]:
                assert s["by_submission"] and self.cycle.proposer_counts
            else:
                assert not s["by_submission"]
        assert all(count == 1 for count in seen.values()), "someone decided twice in a round"

    def one_event_per_transition_and_per_sign_off(self, nominations, sign_offs, events):
        assert sum(1 for e in events if e["from_state"] != e["to_state"]) == self.transitions
        decisions = [e for e in events if e["action"] in DECISIONS]
        made = [s for s in sign_offs if not s["by_submission"]]
        assert len(decisions) == len(made) == self.decisions
        assert Counter(
            (e["nomination_id"], e["round"], e["actor_id"], e["action"]) for e in decisions
        ) == Counter((s["nomination_id"], s["round"], s["person_id"], s["decision"]) for s in made)
        # Each nomination's transitions chain from nothing to its current state.
        last = dict.fromkeys(nominations, "")
        for e in events:
            if e["from_state"] != e["to_state"]:
                assert e["from_state"] == last[e["nomination_id"]], e
                last[e["nomination_id"]] = e["to_state"]
        assert last == {pk: n["state"] for pk, n in nominations.items()}

    def the_list_is_what_was_agreed(self, nominations, events, active):
        assert active == self.expected_list
        # The same, folded from the approved nominations in the order they were agreed.
        folded: dict[int, int] = {}
        for e in events:
            if e["action"] == "agreed":
                n = nominations[e["nomination_id"]]
                if n["kind"] == "remove":
                    folded.pop(n["account_id"])
                else:
                    folded[n["account_id"]] = n["tier"]
        assert active == folded

    def no_tier_over_capacity(self, active):
        for tier, used in Counter(active.values()).items():
            assert used <= self.capacity[tier], f"Tier {tier} holds {used}"

    def one_open_nomination_per_account(self, nominations):
        open_ = Counter(
            n["account_id"] for n in nominations.values() if n["state"] in SUBMITTED_OPEN_STATES
        )
        assert all(count <= 1 for count in open_.values())


def make_cast() -> list[Person]:
    cast = []
    for username, groups, approver in CAST:
        user = person(username, side=groups[0], approver=approver)
        for extra in groups[1:]:
            user.groups.add(Group.objects.get_or_create(name=extra)[0])
        cast.append(Person(type(user).objects.get(pk=user.pk), groups, approver))
    return cast


def test_the_workflow_keeps_its_rules_under_random_use(db):
    Workflow.cast = make_cast()
    run_state_machine_as_test(
        Workflow,
        settings=settings(
            max_examples=int(os.environ.get("ACCORD_STATEFUL_EXAMPLES", 30)),
            stateful_step_count=40,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
