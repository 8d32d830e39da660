"""Approved tier changes and removals apply to the target list."""

from tests.workflow.helpers import decide, fresh, nominate, on_list, put_on_list
from workflow.models import State, TargetAccount


def test_an_approved_tier_change_moves_the_account(people, the_cycle, account):
    target = put_on_list(people, the_cycle, account, tier=2)
    move = nominate(people.sales_approver, the_cycle, account, kind="change_tier", tier=1)

    decide(move, people.marketing_approver)

    assert fresh(move).state == State.APPROVED
    target = TargetAccount.objects.get(pk=target.pk)
    assert target.tier == 1
    assert target.removed_at is None
    assert target.last_nomination_id == move.pk
    assert target.nomination_id != move.pk, "the entry still remembers who added it"
    assert on_list(the_cycle) == {account.pk: 1}


def test_an_approved_removal_takes_the_account_off(people, the_cycle, account):
    target = put_on_list(people, the_cycle, account, tier=2)
    removal = nominate(people.sales_approver, the_cycle, account, kind="remove")
    assert fresh(removal).tier is None

    decide(removal, people.marketing_approver)

    target = TargetAccount.objects.get(pk=target.pk)
    assert target.removed_at is not None
    assert target.last_nomination_id == removal.pk
    assert on_list(the_cycle) == {}


def test_a_removed_account_can_be_added_again(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=2)
    decide(nominate(people.sales_approver, the_cycle, account, kind="remove"), people.marketer)

    again = nominate(people.marketer, the_cycle, account, tier=3)
    decide(again, people.sales_approver)

    assert on_list(the_cycle) == {account.pk: 3}
    assert TargetAccount.objects.filter(account=account).count() == 2


def test_a_rejected_change_leaves_the_list_alone(people, the_cycle, account):
    put_on_list(people, the_cycle, account, tier=2)
    move = nominate(people.sales_approver, the_cycle, account, kind="change_tier", tier=3)

    decide(move, people.marketing_approver, "reject", note="Keep it in Tier 2")

    assert on_list(the_cycle) == {account.pk: 2}


def test_an_added_entry_carries_the_accounts_owners(people, the_cycle, account):
    account.sales_owner = people.sales_member
    account.marketing_owner = people.marketing_member
    account.save()

    target = put_on_list(people, the_cycle, account, tier=1)

    assert (target.sales_owner, target.marketing_owner) == (
        people.sales_member,
        people.marketing_member,
    )
