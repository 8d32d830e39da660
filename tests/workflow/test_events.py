"""Every transition and every sign-off writes one event, in the same transaction: who, which
side, from, to, action, round, note."""

import pytest
from django.db import DatabaseError, connection

from tests.factories import cycle
from tests.workflow.helpers import decide, events, fresh, nominate
from workflow import services
from workflow.models import State


def rows(nomination):
    return [
        (
            e.actor.username if e.actor else None,
            e.actor_side,
            e.action,
            e.from_state,
            e.to_state,
            e.round,
            e.note,
        )
        for e in events(nomination)
    ]


def test_it_writes_one_event_per_step_of_a_nomination(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier 2?")
    services.nomination_resubmit(nomination=n, by=people.marketer, tier=2, note="Moved to 2")
    decide(n, people.sales_approver, note="Agreed")

    assert rows(n) == [
        ("mara", "marketing", "created", "", "draft", 1, ""),
        ("mara", "marketing", "submitted", "draft", "in_review", 1, ""),
        ("sam", "sales", "request_changes", "in_review", "changes_requested", 1, "Tier 2?"),
        ("mara", "marketing", "resubmitted", "changes_requested", "in_review", 2, "Moved to 2"),
        ("sam", "sales", "approve", "in_review", "in_review", 2, "Agreed"),
        ("sam", "sales", "agreed", "in_review", "approved", 2, "Both sides reached their quorum."),
    ]


def test_it_writes_an_event_for_a_sign_off_that_changes_nothing_yet(people, account):
    c = cycle("FY27 H2", sales_quorum=2)
    n = nominate(people.marketer, c, account)

    decide(n, people.sales_approver)

    assert rows(n)[-1] == ("sam", "sales", "approve", "in_review", "in_review", 1, "")


def test_it_writes_the_rejection_and_withdrawal_events(people, the_cycle, account):
    rejected = nominate(people.marketer, the_cycle, account)
    decide(rejected, people.sales_approver, "reject", note="Competitor's customer")
    withdrawn = nominate(people.marketer, the_cycle, account, submit=False)
    services.nomination_withdraw(nomination=withdrawn, by=people.marketer, note="Duplicate")

    assert rows(rejected)[-1] == (
        "sam",
        "sales",
        "reject",
        "in_review",
        "rejected",
        1,
        "Competitor's customer",
    )
    assert rows(withdrawn)[-1] == (
        "mara",
        "marketing",
        "withdrawn",
        "draft",
        "withdrawn",
        1,
        "Duplicate",
    )


def test_it_writes_one_event_per_state_change(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Why?")
    services.nomination_resubmit(nomination=n, by=people.marketer)
    services.nomination_withdraw(nomination=n, by=people.marketer)

    changes = [(e.from_state, e.to_state) for e in events(n) if e.from_state != e.to_state]
    assert changes == [
        ("", "draft"),
        ("draft", "in_review"),
        ("in_review", "changes_requested"),
        ("changes_requested", "in_review"),
        ("in_review", "withdrawn"),
    ]


def test_a_transition_is_not_saved_when_its_event_cannot_be(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    before = len(events(n))

    def disk_full_for_events(execute, sql, params, many, context):
        # The database refuses the event's row (Django's hook on every query it sends).
        if sql.lstrip().upper().startswith("INSERT") and '"workflow_nominationevent"' in sql:
            raise DatabaseError("disk full")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(disk_full_for_events), pytest.raises(DatabaseError):
        decide(n, people.sales_approver, "reject", note="No")

    assert fresh(n).state == State.IN_REVIEW
    assert not n.sign_offs.filter(person=people.sales_approver).exists()
    assert len(events(n)) == before
