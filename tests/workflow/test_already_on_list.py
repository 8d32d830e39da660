"""An account on the list can only be changed or removed, not added again; one that is not on
it cannot be changed or removed. The service explains, the database enforces."""

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import Conflict, Invalid
from tests.workflow.helpers import nominate, put_on_list
from workflow.models import Nomination, TargetAccount


def test_it_refuses_to_add_an_account_already_on_the_list(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=2)

    with pytest.raises(Conflict) as error:
        nominate(people.sales_approver, the_cycle, account, tier=1)

    assert error.value.message == (
        "Globex is already on the FY27 H1 list (Tier 2). "
        "Propose a tier change or a removal instead."
    )
    assert error.value.field == "kind"
    assert Nomination.objects.filter(account=account).count() == 1


@pytest.mark.parametrize("kind,verb", [("change_tier", "moved"), ("remove", "removed")])
def test_it_refuses_to_change_an_account_not_on_the_list(people, the_cycle, account, kind, verb):
    with pytest.raises(
        Conflict, match=f"Globex is not on the FY27 H1 list, so it cannot be {verb}"
    ):
        nominate(people.marketer, the_cycle, account, kind=kind, tier=2)

    assert not Nomination.objects.exists()


def test_it_refuses_a_tier_change_to_the_same_tier(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=2)

    with pytest.raises(Invalid, match="already in Tier 2") as error:
        nominate(people.marketer, the_cycle, account, kind="change_tier", tier=2)

    assert error.value.field == "tier"


def test_the_database_refuses_a_second_active_entry(people, the_cycle, account):
    target = put_on_list(people, the_cycle, account, tier=2)
    now = timezone.now()

    with pytest.raises(IntegrityError), transaction.atomic():
        TargetAccount.objects.create(
            cycle=the_cycle,
            account=account,
            tier=1,
            nomination=target.nomination,
            last_nomination=target.nomination,
            added_at=now,
            updated_at=now,
        )


def test_the_database_keeps_removed_entries_beside_the_active_one(people, the_cycle, account):
    target = put_on_list(people, the_cycle, account, tier=2)
    now = timezone.now()
    TargetAccount.objects.filter(pk=target.pk).update(removed_at=now)

    TargetAccount.objects.create(
        cycle=the_cycle,
        account=account,
        tier=1,
        nomination=target.nomination,
        last_nomination=target.nomination,
        added_at=now,
        updated_at=now,
    )

    assert TargetAccount.objects.filter(account=account).count() == 2
