"""Small helpers for the workflow tests: every write goes through the services."""

from workflow import services
from workflow.models import Nomination, NominationEvent, SignOff, TargetAccount


def nominate(by, cycle, account, *, kind="add", tier=1, rationale="Strong fit", submit=True):
    return services.nomination_create(
        cycle=cycle,
        account=account,
        kind=kind,
        tier=None if kind == "remove" else tier,
        rationale=rationale,
        by=by,
        submit=submit,
    )


def decide(nomination, by, decision="approve", note=""):
    return services.nomination_sign_off(nomination=nomination, by=by, decision=decision, note=note)


def fresh(nomination) -> Nomination:
    return Nomination.objects.get(pk=nomination.pk)


def on_list(cycle) -> dict[int, int]:
    """The cycle's active list as {account_id: tier}."""
    return dict(
        TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True).values_list(
            "account_id", "tier"
        )
    )


def put_on_list(people, cycle, account, tier=1) -> TargetAccount:
    """Agree an addition the normal way: marketing proposes, sales approves."""
    n = nominate(people.marketer, cycle, account, tier=tier)
    decide(n, people.sales_approver)
    return TargetAccount.objects.get(cycle=cycle, account=account, removed_at__isnull=True)


def sign_offs(nomination):
    return list(SignOff.objects.filter(nomination=nomination).order_by("pk"))


def events(nomination):
    return list(NominationEvent.objects.filter(nomination=nomination).order_by("pk"))


def actions(nomination) -> list[str]:
    return [e.action for e in events(nomination)]
