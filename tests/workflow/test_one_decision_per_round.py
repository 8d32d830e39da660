"""One decision per person per round; a new round asks everyone again."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import NotAllowed
from tests.factories import cycle
from tests.workflow.helpers import decide, fresh, nominate
from workflow import services
from workflow.models import Decision, SignOff, State


@pytest.fixture
def slow_cycle(db):
    return cycle("FY27 H2", sales_quorum=2)


def test_it_refuses_a_second_sign_off_from_the_same_person(people, slow_cycle, account):
    n = nominate(people.marketer, slow_cycle, account)
    decide(n, people.sales_approver)

    with pytest.raises(NotAllowed, match="already decided on round 1") as error:
        decide(n, people.sales_approver, "reject", note="second thoughts")

    assert error.value.status == 403
    assert fresh(n).state == State.IN_REVIEW
    assert SignOff.objects.filter(nomination=n, person=people.sales_approver).count() == 1


def test_it_asks_again_in_the_next_round(people, slow_cycle, account):
    n = nominate(people.marketer, slow_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Which tier?")
    services.nomination_resubmit(nomination=n, by=people.marketer)

    decide(n, people.sales_approver)

    rounds = list(
        SignOff.objects.filter(nomination=n, person=people.sales_approver).values_list(
            "round", "decision"
        )
    )
    assert rounds == [(1, Decision.REQUEST_CHANGES), (2, Decision.APPROVE)]


def test_the_database_refuses_a_second_sign_off_in_a_round(people, slow_cycle, account):
    n = nominate(people.marketer, slow_cycle, account)
    decide(n, people.sales_approver)

    with pytest.raises(IntegrityError), transaction.atomic():
        SignOff.objects.create(
            nomination=n, round=1, person=people.sales_approver, side="sales", decision="approve"
        )
