"""Quorum is counted in one place (workflow.quorum): the queue (SQL), the nomination's side
statuses and the approval itself agree on when a side has reached it, whatever the cycle's
quorums, the proposer rule or the round."""

import pytest

from tests.factories import AccountFactory, cycle, person
from tests.workflow.helpers import decide, fresh, nominate
from workflow import services
from workflow.models import State
from workflow.selectors import nominations_waiting_for

pytestmark = pytest.mark.django_db


def in_queue_of(user, nomination) -> bool:
    return nominations_waiting_for(user).filter(pk=nomination.pk).exists()


def test_the_queue_and_the_side_statuses_agree_as_approvals_come_in():
    the_cycle = cycle(marketing_quorum=2, sales_quorum=2, proposer_counts=True)
    mara = person("mara", side="marketing", approver=True)
    mo, mia = (person(n, side="marketing", approver=True) for n in ("mo", "mia"))
    sam, sid, sue = (person(n, side="sales", approver=True) for n in ("sam", "sid", "sue"))
    n = nominate(mara, the_cycle, AccountFactory())

    # The proposer's submission is marketing's first approval of two.
    statuses = services.side_statuses(fresh(n))
    assert (len(statuses["marketing"].approvals), statuses["marketing"].reached) == (1, False)
    assert in_queue_of(mo, n) and in_queue_of(sam, n)

    decide(n, mo)
    assert services.side_statuses(fresh(n))["marketing"].reached
    assert not in_queue_of(mia, n)  # marketing has reached its quorum
    assert in_queue_of(sam, n)

    decide(n, sam)
    assert not services.side_statuses(fresh(n))["sales"].reached
    assert in_queue_of(sid, n) and fresh(n).state == State.IN_REVIEW

    decide(n, sid)
    assert fresh(n).state == State.APPROVED
    assert not in_queue_of(sue, n)


def test_a_new_round_counts_only_its_own_approvals_everywhere():
    the_cycle = cycle(marketing_quorum=1, sales_quorum=2, proposer_counts=False)
    mara = person("mara", side="marketing")
    mo = person("mo", side="marketing", approver=True)
    sam = person("sam", side="sales", approver=True)
    n = nominate(mara, the_cycle, AccountFactory())
    decide(n, mo)
    decide(n, sam, "request_changes", note="Tier 2, please")
    services.nomination_resubmit(nomination=fresh(n), by=mara, tier=2)

    statuses = services.side_statuses(fresh(n))
    assert statuses["marketing"].approvals == [] and not statuses["marketing"].reached
    assert in_queue_of(mo, n)  # mo's round-1 approval no longer counts
    assert in_queue_of(sam, n)
