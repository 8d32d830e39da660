"""Sign-offs at the same instant, on PostgreSQL with one connection per thread: no approval
twice, no sign-off lost, no seat given twice."""

import threading

import pytest
from django.db import connection

from core.errors import Conflict, DomainError
from tests.factories import AccountFactory, cycle, person
from tests.workflow.helpers import decide, fresh, nominate
from workflow.models import NominationEvent, SignOff, State, TargetAccount

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def at_once(calls):
    """Run the calls in threads released together; return each call's result or error."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait(timeout=10)
            results[i] = call()
        except Exception as error:  # reported back and asserted on
            results[i] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a sign-off hung"
    return results


def approvers(side, count):
    return [person(f"{side}{i}", side=side, approver=True) for i in range(count)]


def check_one_agreement(n, signers, results):
    """Exactly one approval, every accepted sign-off stored, every refusal a Conflict."""
    accepted = [p for p, r in zip(signers, results, strict=True) if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(isinstance(r, Conflict) for r in refused), refused
    assert fresh(n).state == State.APPROVED
    assert NominationEvent.objects.filter(nomination=n, action="agreed").count() == 1
    stored = SignOff.objects.filter(nomination=n, by_submission=False)
    assert sorted(stored.values_list("person_id", flat=True)) == sorted(p.pk for p in accepted)
    assert NominationEvent.objects.filter(nomination=n, action="approve").count() == len(accepted)
    assert TargetAccount.objects.filter(account=n.account).count() == 1
    return accepted


def test_it_approves_once_when_approvers_sign_off_together_with_quorum_1(db):
    the_cycle = cycle(sales_quorum=1, proposer_counts=True)
    proposer = person("mara", side="marketing", approver=True)
    n = nominate(proposer, the_cycle, AccountFactory())
    signers = approvers("sales", 6)

    results = at_once([lambda p=p: decide(n, p) for p in signers])

    accepted = check_one_agreement(n, signers, results)
    assert len(accepted) == 1


@pytest.mark.parametrize("attempt", range(3))  # a race may not show on every run
def test_it_loses_no_sign_off_and_approves_once_with_quorum_3(db, attempt):
    the_cycle = cycle(marketing_quorum=3, sales_quorum=3, proposer_counts=False)
    proposer = person("mina", side="marketing")
    n = nominate(proposer, the_cycle, AccountFactory())
    signers = approvers("marketing", 4) + approvers("sales", 4)

    results = at_once([lambda p=p: decide(n, p) for p in signers])

    accepted = check_one_agreement(n, signers, results)
    assert 6 <= len(accepted) <= 7
    sides = [person_.groups.get().name for person_ in accepted]
    assert sides.count("marketing") >= 3 and sides.count("sales") >= 3


def test_it_keeps_every_sign_off_when_none_completes_the_quorum(db):
    the_cycle = cycle(sales_quorum=5, proposer_counts=True)
    proposer = person("mara", side="marketing", approver=True)
    n = nominate(proposer, the_cycle, AccountFactory())
    signers = approvers("sales", 4)

    results = at_once([lambda p=p: decide(n, p) for p in signers])

    assert not any(isinstance(r, Exception) for r in results), results
    assert fresh(n).state == State.IN_REVIEW
    assert SignOff.objects.filter(nomination=n, by_submission=False).count() == 4


@pytest.mark.parametrize("attempt", range(5))  # a race may not show on every run
def test_two_approvals_racing_for_the_last_seat_give_it_once(db, attempt):
    the_cycle = cycle(f"Race {attempt}", capacities=(2, 10, 10))
    proposer = person("mara", side="marketing", approver=True)
    sam, sara = approvers("sales", 2)
    n = nominate(proposer, the_cycle, AccountFactory())
    decide(n, sam)  # one of the two seats taken
    first = nominate(proposer, the_cycle, AccountFactory(name="Acme"))
    second = nominate(proposer, the_cycle, AccountFactory(name="Bolt"))

    results = at_once([lambda: decide(first, sam), lambda: decide(second, sara)])

    winners = [r for r in results if not isinstance(r, Exception)]
    losers = [r for r in results if isinstance(r, Exception)]
    assert len(winners) == 1 and len(losers) == 1, results
    assert isinstance(losers[0], DomainError)
    assert isinstance(losers[0], Conflict)
    assert "Tier 1 of Race" in losers[0].message and "is full (2 of 2" in losers[0].message
    states = sorted([fresh(first).state, fresh(second).state])
    assert states == [State.APPROVED, State.IN_REVIEW]
    assert TargetAccount.objects.filter(cycle=the_cycle, tier=1, removed_at=None).count() == 2
    loser = first if fresh(first).state == State.IN_REVIEW else second
    assert not SignOff.objects.filter(nomination=loser, by_submission=False).exists()
