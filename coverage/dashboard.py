"""Reads of the coverage dashboard (the pages, the charts, the digest): a cycle's snapshots
over time, the rows a person must act on, one account's coverage. Every read is of what
snapshots stored; nothing is computed from contacts or activities here."""

from __future__ import annotations

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery, Sum

from accounts_app.models import BuyingRole
from core.roles import is_ops
from coverage.models import AccountCoverage, Gap, Snapshot, Stage, gap_field
from coverage.models import SnapshotState as State
from coverage.selectors import stale_before
from workflow.models import Cycle


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


# --- What needs action, and by whom -----------------------------------------------------------

# Who acts on each gap. The sales owner follows up marketing's touches; a missing role, a single
# thread or an account gone cold need both owners; an owner missing on a side is for revenue
# operations, who assign owners.
SALES_GAPS = (Gap.NO_SALES_FOLLOW_UP, Gap.MISSING_ROLE, Gap.SINGLE_THREADED, Gap.GONE_COLD)
MARKETING_GAPS = (Gap.MISSING_ROLE, Gap.SINGLE_THREADED, Gap.GONE_COLD)
OPS_GAPS = (Gap.NO_SALES_OWNER, Gap.NO_MARKETING_OWNER)

# Stages further along than "aware" (the scorecard's "engaged or further").
ENGAGED_OR_FURTHER = (Stage.ENGAGED, Stage.OPPORTUNITY, Stage.CUSTOMER)


def _any_gap(codes) -> Q:
    q = Q(pk__in=[])
    for code in codes:
        q |= Q(**{gap_field(code): True})
    return q


def needs_action_q(user) -> Q:
    """The rows `user` must act on: their accounts as sales owner with a sales gap, as
    marketing owner with a marketing gap, and, for revenue operations, every account missing
    an owner. Used by the dashboard's list and the table's "needs my action" filter alike."""
    q = Q(sales_owner_id=user.pk) & _any_gap(SALES_GAPS)
    q |= Q(marketing_owner_id=user.pk) & _any_gap(MARKETING_GAPS)
    if is_ops(user):
        q |= _any_gap(OPS_GAPS)
    return q


def _role_labels(roles) -> str:
    return ", ".join(BuyingRole(r).label if r in BuyingRole.values else str(r) for r in roles)


def gap_reasons(row: AccountCoverage, settings: dict, *, user=None) -> list[dict]:
    """Why a row needs action, in words, one entry per gap (limited to the gaps `user` acts on
    when given), each with the side that acts."""
    follow_up = settings.get("follow_up_days", 14)
    cold = settings.get("gone_cold_days", [31, 90])
    both = "both"
    texts = {
        Gap.NO_SALES_FOLLOW_UP: (
            "sales",
            f"Marketing touched it in the last {follow_up} days and sales has not followed up.",
        ),
        Gap.MISSING_ROLE: (
            both,
            f"No contact in a required role: {_role_labels(row.missing_roles)}."
            if row.missing_roles
            else "A required buying role has no contact.",
        ),
        Gap.SINGLE_THREADED: (both, "Only one engaged contact: single-threaded."),
        Gap.GONE_COLD: (
            both,
            f"Touched {cold[0]}–{cold[1]} days ago and not since: gone cold.",
        ),
        Gap.NO_SALES_OWNER: ("ops", "No sales owner: revenue operations assign one."),
        Gap.NO_MARKETING_OWNER: ("ops", "No marketing owner: revenue operations assign one."),
    }
    mine = None
    if user is not None:
        mine = set()
        if row.sales_owner_id == user.pk:
            mine |= set(SALES_GAPS)
        if row.marketing_owner_id == user.pk:
            mine |= set(MARKETING_GAPS)
        if is_ops(user):
            mine |= set(OPS_GAPS)
    reasons = []
    for code in row.gaps:
        if mine is not None and code not in mine:
            continue
        who, text = texts[code]
        reasons.append({"gap": code, "label": Gap(code).label, "who": who, "text": text})
    return reasons


def rows_needing_action(*, snapshot: Snapshot, user) -> QuerySet[AccountCoverage]:
    return (
        AccountCoverage.objects.filter(snapshot=snapshot)
        .filter(needs_action_q(user))
        .select_related("account", "sales_owner", "marketing_owner")
        # The stored order (tier, account name): the first page is read through the
        # (snapshot, position) index, not by sorting every row a person owns.
        .order_by("position")
    )


# --- One account ------------------------------------------------------------------------------


def account_stage_history(*, account_id: int) -> list[dict]:
    """The account's stays in each journey stage, per cycle, from the done snapshots: one
    entry per (cycle, stage, since), with the last day a snapshot saw it. One query."""
    return list(
        AccountCoverage.objects.filter(account_id=account_id, snapshot__state=State.DONE)
        .values("snapshot__cycle_id", "snapshot__cycle__name", "stage", "stage_since")
        .annotate(last_seen=Max("snapshot__taken_on"))
        .order_by("snapshot__cycle__name", "snapshot__cycle_id", "-stage_since")
    )


def account_coverage_in(*, snapshot: Snapshot | None, account_id: int) -> AccountCoverage | None:
    """The account's row in `snapshot` (None when it was not on the list then), without its
    owners (the nomination page names them from the account)."""
    if snapshot is None:
        return None
    return AccountCoverage.objects.filter(snapshot=snapshot, account_id=account_id).first()


def cycles_with_latest_snapshot():
    """Cycles, newest first, each with the day of its latest done snapshot (or None)."""
    latest = Snapshot.objects.filter(cycle=OuterRef("pk"), state=State.DONE).order_by(
        "-taken_on", "-pk"
    )
    return Cycle.objects.annotate(latest_snapshot_on=Subquery(latest.values("taken_on")[:1]))


def snapshot_running(*, cycle_id: int) -> Snapshot | None:
    """A snapshot being taken now, to show its progress (not one abandoned)."""
    return (
        Snapshot.objects.filter(
            cycle_id=cycle_id, state=State.RUNNING, taken_at__gte=stale_before()
        )
        .order_by("-taken_at", "-pk")
        .first()
    )
