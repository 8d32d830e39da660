"""Who may decide: approvers on one side, never the proposer, never ops or non-approvers."""

import pytest

from core.errors import Invalid, NotAllowed
from tests.factories import person
from tests.workflow.helpers import actions, decide, fresh, nominate, sign_offs
from workflow.models import State


@pytest.fixture
def nomination(people, the_cycle, account):
    return nominate(people.marketer, the_cycle, account)


def assert_nothing_recorded(nomination, before):
    assert fresh(nomination).state == State.IN_REVIEW
    assert len(sign_offs(nomination)) == before
    assert actions(nomination) == ["created", "submitted"]


def test_it_refuses_a_sign_off_from_a_non_approver(people, nomination):
    before = len(sign_offs(nomination))

    with pytest.raises(NotAllowed, match="not an approver for sales"):
        decide(nomination, people.sales_member)

    assert_nothing_recorded(nomination, before)


def test_it_refuses_a_sign_off_from_ops(people, nomination):
    before = len(sign_offs(nomination))

    with pytest.raises(NotAllowed, match="marketing or sales side"):
        decide(nomination, people.ops)

    assert_nothing_recorded(nomination, before)


def test_it_refuses_ops_even_with_the_sign_off_permission(people, nomination):
    ops_approver = person("otto", side="ops", approver=True)
    before = len(sign_offs(nomination))

    with pytest.raises(NotAllowed):
        decide(nomination, ops_approver)

    assert_nothing_recorded(nomination, before)


def test_it_refuses_someone_in_both_side_groups(people, nomination):
    both = person("bo", side="marketing", approver=True)
    both.groups.add(*people.sales_approver.groups.all())
    both = type(both).objects.get(pk=both.pk)
    before = len(sign_offs(nomination))

    with pytest.raises(NotAllowed, match="both the marketing and sales"):
        decide(nomination, both)

    assert_nothing_recorded(nomination, before)


def test_it_refuses_the_proposers_own_decision(people, nomination):
    before = len(sign_offs(nomination))

    with pytest.raises(NotAllowed, match="You proposed this nomination"):
        decide(nomination, people.marketer, "reject", note="changed my mind")

    assert_nothing_recorded(nomination, before)


def test_it_refuses_an_unknown_decision(people, nomination):
    with pytest.raises(Invalid) as error:
        decide(nomination, people.sales_approver, "maybe")
    assert error.value.field == "decision"
