"""One open nomination per cycle and account: the service explains, the database enforces."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import Conflict
from tests.factories import cycle
from tests.workflow.helpers import decide, nominate
from workflow import services
from workflow.models import Nomination, State


def test_it_refuses_a_second_open_nomination_for_the_account(people, the_cycle, account):
    first = nominate(people.marketer, the_cycle, account)

    with pytest.raises(Conflict) as error:
        nominate(people.sales_approver, the_cycle, account, tier=2)

    assert error.value.message == (
        f"Globex already has an open nomination in FY27 H1 (#{first.pk}, in review). "
        "Join that discussion instead."
    )
    assert error.value.field == "account"
    assert Nomination.objects.filter(account=account).count() == 1


def test_it_counts_changes_requested_as_open(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "request_changes", note="Tier?")

    with pytest.raises(Conflict, match="changes requested"):
        nominate(people.sales_approver, the_cycle, account)
    with pytest.raises(Conflict, match="changes requested"):
        nominate(people.sales_approver, the_cycle, account, submit=False)


def test_a_draft_does_not_block_another_nomination_of_the_account(people, the_cycle, account):
    draft = nominate(people.marketer, the_cycle, account, submit=False)

    other = nominate(people.sales_approver, the_cycle, account, tier=2)

    assert other.state == State.IN_REVIEW
    assert Nomination.objects.get(pk=draft.pk).state == State.DRAFT


def test_the_first_draft_submitted_wins(people, the_cycle, account):
    mine = nominate(people.marketer, the_cycle, account, submit=False)
    theirs = nominate(people.sales_approver, the_cycle, account, tier=2, submit=False)
    services.nomination_submit(nomination=theirs, by=people.sales_approver)

    with pytest.raises(Conflict) as error:
        services.nomination_submit(nomination=mine, by=people.marketer)

    assert error.value.message == (
        f"Globex already has an open nomination in FY27 H1 (#{theirs.pk}, in review). "
        "Join that discussion instead."
    )
    assert Nomination.objects.get(pk=mine.pk).state == State.DRAFT


def test_it_allows_the_same_account_in_another_cycle(people, the_cycle, account):
    nominate(people.marketer, the_cycle, account)
    other = cycle(
        "FY27 H2", starts_on=the_cycle.ends_on, ends_on=the_cycle.ends_on.replace(day=31, month=12)
    )

    n = nominate(people.marketer, other, account)

    assert n.state == State.IN_REVIEW


def test_it_allows_a_new_nomination_after_a_rejection(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    decide(n, people.sales_approver, "reject", note="Not now")

    again = nominate(people.marketer, the_cycle, account)

    assert again.state == State.IN_REVIEW


def bypassing_the_service(people, cycle, account, state):
    return Nomination.objects.create(
        cycle=cycle,
        account=account,
        kind="add",
        tier=2,
        rationale="Bypassing the service",
        proposer=people.sales_approver,
        proposer_side="sales",
        state=state,
    )


@pytest.mark.parametrize("state", [State.IN_REVIEW, State.CHANGES_REQUESTED])
def test_the_database_refuses_a_second_submitted_open_nomination(people, the_cycle, account, state):
    nominate(people.marketer, the_cycle, account)

    with pytest.raises(IntegrityError), transaction.atomic():
        bypassing_the_service(people, the_cycle, account, state)


def test_the_database_allows_drafts_beside_the_open_nomination(people, the_cycle, account):
    nominate(people.marketer, the_cycle, account)

    bypassing_the_service(people, the_cycle, account, State.DRAFT)
    bypassing_the_service(people, the_cycle, account, State.DRAFT)

    assert Nomination.objects.filter(account=account, state=State.DRAFT).count() == 2


def test_the_database_allows_closed_nominations_side_by_side(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)
    services.nomination_withdraw(nomination=n, by=people.marketer)

    Nomination.objects.create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=2,
        rationale="A new draft",
        proposer=people.sales_approver,
        proposer_side="sales",
    )

    assert Nomination.objects.filter(account=account).count() == 2
