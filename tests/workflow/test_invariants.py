"""The invariant checker (`manage.py check_invariants`): silent on a workflow run through the
services, and it names each kind of corruption it is there to find."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.factories import AccountFactory, cycle
from tests.workflow.helpers import decide, nominate
from workflow import invariants, services
from workflow.models import NominationEvent, SignOff, State, TargetAccount

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked(people):
    """A cycle with an approval, a removal, a rejection, a withdrawal and one in review."""
    the_cycle = cycle(sales_quorum=1, marketing_quorum=1, proposer_counts=True)
    kept, removed, rejected, withdrawn, waiting = (AccountFactory() for _ in range(5))
    decide(nominate(people.marketer, the_cycle, kept), people.sales_approver)
    decide(nominate(people.marketer, the_cycle, removed, tier=2), people.sales_approver)
    decide(
        nominate(people.sales_approver_2, the_cycle, removed, kind="remove"),
        people.marketing_approver,
    )
    decide(
        nominate(people.marketer, the_cycle, rejected), people.sales_approver, "reject", "No fit"
    )
    services.nomination_withdraw(
        nomination=nominate(people.marketer, the_cycle, withdrawn), by=people.marketer
    )
    nominate(people.marketer, the_cycle, waiting)
    return the_cycle


def run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("check_invariants", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_workflow_run_through_the_services_keeps_every_invariant(worked):
    out, err = run("--cycle", str(worked.pk))
    assert err == ""
    assert "All invariants hold: 6 nominations" in out


def test_it_finds_a_lost_sign_off_event(worked):
    SignOff.objects.filter(decision="approve", by_submission=False).first().delete()
    with pytest.raises(CommandError, match="invariant"):
        run()
    problems = invariants.violations()
    assert any("0 sign-off(s) but 1 'approve' event(s)" in p for p in problems), problems


def test_it_finds_an_approval_short_of_quorum(worked):
    type(worked).objects.filter(pk=worked.pk).update(sales_quorum=3)
    problems = invariants.violations()
    assert any("is approved but round 1 has" in p for p in problems), problems


def test_it_finds_a_nomination_in_review_at_quorum(worked, people):
    waiting = worked.nominations.get(state=State.IN_REVIEW)
    SignOff.objects.create(
        nomination=waiting, round=1, person=people.sales_approver, side="sales", decision="approve"
    )
    NominationEvent.objects.create(
        nomination=waiting,
        actor=people.sales_approver,
        action="approve",
        from_state=State.IN_REVIEW,
        to_state=State.IN_REVIEW,
        round=1,
    )
    problems = invariants.violations()
    assert problems == [
        f"Nomination {waiting.pk} is in review with both sides at quorum in round 1."
    ]


def test_it_finds_a_state_changed_without_its_event(worked):
    waiting = worked.nominations.get(state=State.IN_REVIEW)
    type(waiting).objects.filter(pk=waiting.pk).update(state=State.WITHDRAWN)
    problems = invariants.violations()
    assert f"Nomination {waiting.pk} is withdrawn but its last event says in_review." in problems
    assert f"Nomination {waiting.pk} entered withdrawn by no event." in problems


def test_it_finds_a_list_entry_no_approval_made(worked):
    stray = AccountFactory()
    now = timezone.now()
    rejected = worked.nominations.get(state=State.REJECTED)
    TargetAccount.objects.create(
        cycle=worked,
        account=stray,
        tier=3,
        nomination=rejected,
        last_nomination=rejected,
        added_at=now,
        updated_at=now,
    )
    problems = invariants.violations()
    assert f"{worked.name}: account {stray.pk} should be off the list but is in tier 3." in problems
    assert any(f"change of account {stray.pk}" in p for p in run_outbox(worked))


def run_outbox(the_cycle):
    from crm.invariants import every_list_change_is_in_the_outbox

    return every_list_change_is_in_the_outbox([the_cycle])


def test_every_approved_change_is_in_the_outbox(worked):
    assert run_outbox(worked) == []


def test_it_refuses_an_unknown_cycle(worked):
    with pytest.raises(CommandError, match="No cycle"):
        run("--cycle", "999999")
