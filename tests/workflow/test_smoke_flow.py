from workflow import services
from workflow.models import State, TargetAccount


def test_a_nomination_joins_the_list_when_both_sides_approve(people, the_cycle, account):
    n = services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Strong fit",
        by=people.marketer,
    )
    assert n.state == State.IN_REVIEW
    n = services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")
    assert n.state == State.APPROVED
    assert TargetAccount.objects.filter(cycle=the_cycle, account=account, tier=1).exists()
