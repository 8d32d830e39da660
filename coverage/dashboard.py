"""Reads of the coverage dashboard (the pages, the charts, the digest): a cycle's snapshots
over time, the rows a person must act on, one account's coverage. Every read is of what
snapshots stored; nothing is computed from contacts or activities here."""

from __future__ import annotations

from django.db.models import Count, Q, Sum

from coverage.models import AccountCoverage, Snapshot
from coverage.models import SnapshotState as State


def snapshot_history(*, snapshot: Snapshot) -> list[dict]:
    """One point per done snapshot of the cycle up to `snapshot`, oldest first: its day, its
    cycle metrics and alignment, and the touches of each side summed over its rows. Two
    queries, whatever the number of accounts or snapshots."""
    snapshots = list(
        Snapshot.objects.filter(
            cycle_id=snapshot.cycle_id, state=State.DONE, taken_on__lte=snapshot.taken_on
        )
        .order_by("taken_on", "pk")
        .values("pk", "taken_on", "aggregates__cycle", "alignment")
    )
    sums = {
        row["snapshot_id"]: row
        for row in AccountCoverage.objects.filter(snapshot_id__in=[s["pk"] for s in snapshots])
        .values("snapshot_id")
        .annotate(
            marketing=Sum("marketing_touches_30d", default=0),
            sales=Sum("sales_touches_30d", default=0),
            marketing_accounts=Count("pk", filter=Q(marketing_touches_30d__gt=0)),
            sales_accounts=Count("pk", filter=Q(sales_touches_30d__gt=0)),
        )
        .order_by()
    }
    empty = {"marketing": 0, "sales": 0, "marketing_accounts": 0, "sales_accounts": 0}
    history = []
    for s in snapshots:
        touched = sums.get(s["pk"], empty)
        history.append(
            {
                "snapshot": s["pk"],
                "taken_on": s["taken_on"],
                "cycle": s["aggregates__cycle"] or {},
                "alignment": s["alignment"] or {},
                "marketing_touches_30d": touched["marketing"],
                "sales_touches_30d": touched["sales"],
                "marketing_accounts_30d": touched["marketing_accounts"],
                "sales_accounts_30d": touched["sales_accounts"],
            }
        )
    return history
