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


def test_it_counts_drafts_and_changes_requested_as_open(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, submit=False)
    with pytest.raises(Conflict, match="draft"):
        nominate(people.sales_approver, the_cycle, account)

    services.nomination_submit(nomination=n, by=people.marketer)
    decide(n, people.sales_approver, "request_changes", note="Tier?")
    with pytest.raises(Conflict, match="changes requested"):
        nominate(people.sales_approver, the_cycle, account)


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


def test_the_database_refuses_a_second_open_nomination(people, the_cycle, account):
    nominate(people.marketer, the_cycle, account)

    with pytest.raises(IntegrityError), transaction.atomic():
        Nomination.objects.create(
            cycle=the_cycle,
            account=account,
            kind="add",
            tier=2,
            rationale="Bypassing the service",
            proposer=people.sales_approver,
            proposer_side="sales",
        )


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
