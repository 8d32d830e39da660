"""Reads used by more than one caller (pages, API, tasks)."""

from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet

from core.roles import Side, side_of
from workflow.models import (
    SUBMITTED_OPEN_STATES,
    Comment,
    Cycle,
    CycleState,
    Decision,
    ListVersion,
    Nomination,
    SignOff,
    State,
    TargetAccount,
)


def nominations_for_list() -> QuerySet[Nomination]:
    """Nominations with what list pages show, in a constant number of queries."""
    return Nomination.objects.select_related(
        "account", "cycle", "proposer", "account__sales_owner", "account__marketing_owner"
    )


def nominations_waiting_for(user) -> QuerySet[Nomination]:
    """In review, this person's side has not reached quorum, and they have not decided yet."""
    side = side_of(user)
    if side is None:
        return Nomination.objects.none()
    decided = SignOff.objects.filter(
        nomination=OuterRef("pk"), round=OuterRef("round"), person=user
    )
    quorum = F("cycle__marketing_quorum" if side == Side.MARKETING else "cycle__sales_quorum")
    return (
        nominations_for_list()
        .filter(state=State.IN_REVIEW)
        .exclude(cycle__state=CycleState.CLOSED)  # read-only once its cycle closed
        .exclude(proposer=user)
        .annotate(
            side_approvals=Count(
                "sign_offs",
                filter=Q(
                    sign_offs__side=side,
                    sign_offs__decision=Decision.APPROVE,
                    sign_offs__round=F("round"),
                ),
            )
        )
        .filter(side_approvals__lt=quorum)
        .exclude(Exists(decided))
        .order_by("waiting_since")
    )


def proposals_of(user) -> QuerySet[Nomination]:
    return nominations_for_list().filter(proposer=user).order_by("-updated_at")


def mentions_of(user) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(mentions=user)
        .select_related("author", "nomination", "nomination__account", "nomination__cycle")
        .order_by("-created_at")
    )


def active_targets(cycle: Cycle) -> QuerySet[TargetAccount]:
    return TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True).select_related(
        "account", "sales_owner", "marketing_owner", "nomination"
    )


def seats_taken(cycle_ids) -> dict[tuple[int, int], int]:
    """{(cycle id, tier): accounts on the list now} for the given cycles, in one query."""
    rows = (
        TargetAccount.objects.filter(cycle_id__in=list(cycle_ids), removed_at__isnull=True)
        .values_list("cycle_id", "tier")
        .annotate(n=Count("pk"))
    )
    return {(cycle_id, tier): n for cycle_id, tier, n in rows}


def tier_usage(cycle: Cycle) -> list[dict]:
    """[{number, capacity, used, percent, full, full_message, required_roles}] for the three
    tiers. `full_message` is the warning shown before a full tier is proposed or approved."""
    used = seats_taken([cycle.pk])
    rows = []
    for tier in cycle.tiers.all():
        count = used.get((cycle.pk, tier.number), 0)
        full = count >= tier.capacity
        rows.append(
            {
                "number": tier.number,
                "capacity": tier.capacity,
                "used": count,
                "percent": min(100, round(100 * count / tier.capacity)) if tier.capacity else 100,
                "full": full,
                "full_message": (
                    f"Tier {tier.number} is full ({count} of {tier.capacity} accounts). "
                    "Approval will be refused unless a place frees up first."
                )
                if full
                else "",
                "required_roles": tier.required_role_labels(),
            }
        )
    return rows


def open_nomination_for(cycle: Cycle, account) -> Nomination | None:
    """The account's submitted, undecided nomination in the cycle, if any. Drafts do not
    count (see SUBMITTED_OPEN_STATES)."""
    return Nomination.objects.filter(
        cycle=cycle, account=account, state__in=SUBMITTED_OPEN_STATES
    ).first()


@dataclass
class ListDiff:
    old: ListVersion
    new: ListVersion
    added: list[dict] = field(default_factory=list)
    removed: list[dict] = field(default_factory=list)
    tier_changed: list[dict] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.tier_changed)


def list_version_diff(*, old: ListVersion, new: ListVersion) -> ListDiff:
    """What changed between two versions of one cycle's list, and by which nomination.

    Added and moved entries carry the nomination stored in the newer snapshot; removed ones the
    approved removal that took them off between the two publications.
    """
    if old.cycle_id != new.cycle_id:
        raise ValueError("Both versions must belong to the same cycle.")
    if old.number > new.number:
        old, new = new, old
    before = {e["account_id"]: e for e in old.entries}
    after = {e["account_id"]: e for e in new.entries}
    diff = ListDiff(old=old, new=new)
    for account_id, entry in after.items():
        if account_id not in before:
            diff.added.append(entry)
        elif before[account_id]["tier"] != entry["tier"]:
            diff.tier_changed.append({**entry, "old_tier": before[account_id]["tier"]})
    removed_ids = [a for a in before if a not in after]
    if removed_ids:
        removals = dict(
            TargetAccount.objects.filter(
                cycle_id=new.cycle_id,
                account_id__in=removed_ids,
                removed_at__gt=old.published_at,
                removed_at__lte=new.published_at,
            )
            .order_by("removed_at")
            .values_list("account_id", "last_nomination_id")
        )
        for account_id in removed_ids:
            diff.removed.append({**before[account_id], "nomination_id": removals.get(account_id)})
    for rows in (diff.added, diff.removed, diff.tier_changed):
        rows.sort(key=lambda e: e["account_name"].casefold())
    return diff
