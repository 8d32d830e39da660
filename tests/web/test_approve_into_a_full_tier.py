"""The nomination page warns an approver before they approve a nomination whose tier is full,
as the nominate form warns the proposer; the approval itself is still refused by the service."""

from django.urls import reverse

from tests.factories import AccountFactory, cycle
from workflow import services

WARNING = "Tier 1 is full (1 of 1 accounts). Approval will be refused unless a place frees up"


def propose(people, the_cycle, name, tier=1):
    return services.nomination_create(
        cycle=the_cycle,
        account=AccountFactory(name=name),
        kind="add",
        tier=tier,
        rationale="Flagship.",
        by=people.marketer,
    )


def page_of(client, nomination) -> str:
    response = client.get(reverse("workflow:nomination", args=[nomination.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_an_approver_is_warned_that_the_tier_is_full_before_approving(people, as_):
    small = cycle("FY27 H2", capacities=(1, 5, 5))
    first = propose(people, small, "Umbrella")
    services.nomination_sign_off(nomination=first, by=people.sales_approver, decision="approve")
    second = propose(people, small, "Hooli")

    page = page_of(as_(people.sales_approver_2), second)

    assert 'data-testid="tier-full"' in page
    assert WARNING in page
    assert 'value="approve"' in page  # warned, not stopped: a place may free up first


def test_no_warning_while_the_tier_has_room(people, as_):
    small = cycle("FY27 H2", capacities=(2, 5, 5))
    first = propose(people, small, "Umbrella")
    services.nomination_sign_off(nomination=first, by=people.sales_approver, decision="approve")
    second = propose(people, small, "Hooli")

    assert 'data-testid="tier-full"' not in page_of(as_(people.sales_approver_2), second)


def test_a_move_into_a_full_tier_warns_but_a_removal_does_not(people, as_):
    small = cycle("FY27 H2", capacities=(1, 5, 5))
    for name, tier in (("Umbrella", 1), ("Hooli", 2)):
        n = propose(people, small, name, tier=tier)
        services.nomination_sign_off(nomination=n, by=people.sales_approver, decision="approve")
    hooli = n.account
    move = services.nomination_create(
        cycle=small, account=hooli, kind="change_tier", tier=1, rationale="Up", by=people.marketer
    )
    assert WARNING in page_of(as_(people.sales_approver_2), move)

    services.nomination_withdraw(nomination=move, by=people.marketer)
    removal = services.nomination_create(
        cycle=small, account=hooli, kind="remove", rationale="Gone quiet", by=people.marketer
    )
    assert 'data-testid="tier-full"' not in page_of(as_(people.sales_approver_2), removal)


def test_a_viewer_who_cannot_approve_is_not_warned(people, as_):
    small = cycle("FY27 H2", capacities=(1, 5, 5))
    first = propose(people, small, "Umbrella")
    services.nomination_sign_off(nomination=first, by=people.sales_approver, decision="approve")
    second = propose(people, small, "Hooli")

    assert 'data-testid="tier-full"' not in page_of(as_(people.sales_member), second)
