"""Proposing a change to a cycle's list: who may, what it needs, what it starts."""

import pytest

from core.errors import Conflict, Invalid, NotAllowed
from tests.factories import person
from tests.workflow.helpers import actions, fresh, nominate
from workflow import services
from workflow.models import Nomination, State


def test_it_puts_a_new_nomination_in_review(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, tier=2)

    n = fresh(n)
    assert n.state == State.IN_REVIEW
    assert n.round == 1
    assert n.tier == 2
    assert n.proposer == people.marketer
    assert n.submitted_at is not None
    assert n.waiting_since is not None
    assert actions(n) == ["created", "submitted"]


def test_it_records_the_proposers_side_from_their_groups(people, the_cycle, account):
    n = nominate(people.sales_member, the_cycle, account)

    assert fresh(n).proposer_side == "sales"


def test_it_keeps_a_draft_until_the_proposer_submits_it(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, submit=False)
    assert fresh(n).state == State.DRAFT

    with pytest.raises(NotAllowed):
        services.nomination_submit(nomination=n, by=people.marketing_approver)
    assert fresh(n).state == State.DRAFT

    services.nomination_submit(nomination=n, by=people.marketer)
    assert fresh(n).state == State.IN_REVIEW
    assert actions(n) == ["created", "submitted"]


def test_it_refuses_to_submit_twice(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account)

    with pytest.raises(Conflict, match="not a draft"):
        services.nomination_submit(nomination=n, by=people.marketer)
    assert actions(n) == ["created", "submitted"]


def test_it_lets_the_proposer_edit_a_draft_only(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, tier=1, submit=False)

    services.nomination_update(nomination=n, by=people.marketer, tier=3, rationale="Better")
    assert (fresh(n).tier, fresh(n).rationale) == (3, "Better")
    with pytest.raises(NotAllowed):
        services.nomination_update(nomination=n, by=people.marketing_approver, tier=2)

    services.nomination_submit(nomination=n, by=people.marketer)
    with pytest.raises(Conflict):
        services.nomination_update(nomination=n, by=people.marketer, tier=2)
    assert fresh(n).tier == 3


def test_it_refuses_a_proposal_from_ops(people, the_cycle, account):
    with pytest.raises(NotAllowed, match="marketing or sales side"):
        nominate(people.ops, the_cycle, account)
    assert not Nomination.objects.exists()


def test_it_refuses_a_proposal_from_someone_on_both_sides(people, the_cycle, account):
    both = person("bo", side="marketing", approver=True)
    both.groups.add(*people.sales_approver.groups.all())
    both = type(both).objects.get(pk=both.pk)

    with pytest.raises(NotAllowed, match="both the marketing and sales"):
        nominate(both, the_cycle, account)
    assert not Nomination.objects.exists()


def test_it_refuses_to_submit_a_draft_for_someone_now_on_both_sides(people, the_cycle, account):
    n = nominate(people.marketer, the_cycle, account, submit=False)
    people.marketer.groups.add(*people.sales_approver.groups.all())
    proposer = type(people.marketer).objects.get(pk=people.marketer.pk)

    with pytest.raises(NotAllowed, match="both"):
        services.nomination_submit(nomination=n, by=proposer)
    assert fresh(n).state == State.DRAFT


def test_it_requires_a_rationale(people, the_cycle, account):
    with pytest.raises(Invalid) as error:
        nominate(people.marketer, the_cycle, account, rationale="   ")
    assert error.value.field == "rationale"


@pytest.mark.parametrize("tier", [None, "", 0, 4, "x"])
def test_it_requires_a_tier_from_1_to_3_to_add(people, the_cycle, account, tier):
    with pytest.raises(Invalid) as error:
        nominate(people.marketer, the_cycle, account, tier=tier)
    assert error.value.field == "tier"
    assert not Nomination.objects.exists()


def test_it_refuses_an_unknown_kind(people, the_cycle, account):
    with pytest.raises(Invalid) as error:
        nominate(people.marketer, the_cycle, account, kind="promote")
    assert error.value.field == "kind"


def test_it_accepts_web_links_as_evidence_only(people, the_cycle, account):
    with pytest.raises(Invalid, match="not a web address") as error:
        services.nomination_create(
            cycle=the_cycle,
            account=account,
            kind="add",
            tier=1,
            rationale="Fit",
            evidence_links=["javascript:alert(1)"],
            by=people.marketer,
        )
    assert error.value.field == "evidence_links"

    n = services.nomination_create(
        cycle=the_cycle,
        account=account,
        kind="add",
        tier=1,
        rationale="Fit",
        evidence_links=[" https://globex.example/news ", ""],
        by=people.marketer,
    )
    assert fresh(n).evidence_links == ["https://globex.example/news"]


def test_it_records_the_accounts_fit_score_at_proposal(people, the_cycle, account):
    account.fit_score = 87
    account.save()

    n = nominate(people.marketer, the_cycle, account)

    assert fresh(n).fit_score_at_proposal == 87


def test_a_draft_may_lack_a_rationale_but_cannot_be_submitted_without_one(
    people, the_cycle, account
):
    draft = nominate(people.marketer, the_cycle, account, rationale="", submit=False)
    assert fresh(draft).state == State.DRAFT

    with pytest.raises(Invalid) as refused:
        services.nomination_submit(nomination=draft, by=people.marketer)

    assert refused.value.field == "rationale"
    assert fresh(draft).state == State.DRAFT
    services.nomination_update(nomination=draft, by=people.marketer, rationale="Strong fit")
    assert services.nomination_submit(nomination=draft, by=people.marketer).state == (
        State.IN_REVIEW
    )
