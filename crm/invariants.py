"""The outbox's invariant: every change of a target account made so far is in the outbox,
delivered or still to be delivered (the entry of its account was enqueued at or after it).
`manage.py check_invariants` runs it with the workflow's (workflow/invariants.py)."""

from __future__ import annotations

from django.db.models import Max, OuterRef, Subquery

from crm.models import OutboxEntry
from workflow.models import TargetAccount


def every_list_change_is_in_the_outbox(cycles) -> list[str]:
    latest = (
        OutboxEntry.objects.filter(account_id=OuterRef("account_id"))
        .order_by()
        .values("account_id")
        .annotate(at=Max("enqueued_at"))
        .values("at")
    )
    missing = (
        TargetAccount.objects.filter(cycle__in=cycles)
        .annotate(enqueued=Subquery(latest))
        .values_list("cycle__name", "account_id", "updated_at", "enqueued")
    )
    return [
        f"{cycle}: the change of account {account} at {changed:%Y-%m-%d %H:%M:%S} is not in the "
        f"outbox (its latest entry: {enqueued or 'none'})."
        for cycle, account, changed, enqueued in missing
        if enqueued is None or enqueued < changed
    ]
