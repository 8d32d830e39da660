"""Reads used by more than one caller (pages, API, tasks)."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce

from core.prepared import Prepared
from core.roles import side_of
from workflow import quorum
from workflow.models import (
    SUBMITTED_OPEN_STATES,
    Comment,
    Cycle,
    CycleState,
    ListVersion,
    Nomination,
    SignOff,
    State,
    TargetAccount,
)

# What the `person` filter shows of someone.
_PERSON = ("first_name", "last_name", "username")
# What no page shows of someone it names: `people_unshown` leaves it out of the rows it reads.
_PERSON_UNSHOWN = ("password", "last_login", "is_superuser", "is_staff", "email", "date_joined")


def people_shown(*paths: str) -> list[str]:
    """For `.only()`: the columns of the people at `paths` that the `person` filter shows."""
    return [f"{path}__{name}" for path in paths for name in _PERSON]


def people_unshown(*paths: str) -> list[str]:
    """For `.defer()`: the columns of the people at `paths` (related through select_related)
    that a page naming them never shows. Each column is work for the ORM on every row (a page
    reading its people whole spent a tenth of its time on theirs); anything that does read one
    later costs a query, which the pages' query-count tests would catch."""
    return [f"{path}__{name}" for path in paths for name in _PERSON_UNSHOWN]


def people_named() -> QuerySet:
    """People with what a page shows of them (the `person` filter), e.g. for a prefetch."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.only(*_PERSON)


def nominations_for_list(*, owners: bool = True) -> QuerySet[Nomination]:
    """Nominations with what list pages show (the cycle page; the queue, without the account's
    owners), in a constant number of queries, and only those columns: reading the rest (the
    rationale, the links, each person's every field) took half the time of reading a page of
    rows. A row that shows another field must add it here, or it costs a query per row (the
    pages' query-count tests, with 10 and 1,000 nominations, catch that)."""
    related = ["account", "cycle", "proposer"]
    columns = [
        "kind",
        "tier",
        "state",
        "round",
        "proposer_side",
        "updated_at",
        "waiting_since",
        "account__name",
        "account__domain",
        "account__fit_score",
        "cycle__name",
        "cycle__state",
        "cycle__reminder_after_hours",
        *people_shown("proposer"),
    ]
    if owners:
        related += ["account__sales_owner", "account__marketing_owner"]
        columns += people_shown("account__sales_owner", "account__marketing_owner")
    return Nomination.objects.select_related(*related).only(*columns)


def _waits_for_decision_of(user, side) -> Q:
    """In review, `side` below its quorum in this round, not `user`'s proposal, and not
    decided by `user` yet. Needs `quorum.with_side_approvals`."""
    decided = SignOff.objects.filter(
        nomination=OuterRef("pk"), round=OuterRef("round"), person=user
    )
    return Q(state=State.IN_REVIEW) & ~Q(proposer=user) & quorum.below(side) & ~Q(Exists(decided))


def nominations_waiting_for(user) -> QuerySet[Nomination]:
    """In review, this person's side has not reached quorum, and they have not decided yet."""
    side = side_of(user)
    if side is None:
        return Nomination.objects.none()
    return (
        quorum.with_side_approvals(nominations_for_list(), side)
        .exclude(cycle__state=CycleState.CLOSED)  # read-only once its cycle closed
        .filter(_waits_for_decision_of(user, side))
        .order_by("waiting_since")
    )


def queue_of(user) -> QuerySet[Nomination]:
    """The main tab of a person's queue: what waits for them. For someone on a side, what
    waits for their side's decision (as nominations_waiting_for) and their own nominations the
    other side asked changes to (theirs to edit and resubmit); for revenue operations, who
    have no side, everything in review. Closed cycles' nominations are read-only: never here.
    Each row carries `waited_from`, when its current wait began."""
    side = side_of(user)
    queryset = nominations_for_list(owners=False).exclude(cycle__state=CycleState.CLOSED)
    if side is None:
        waits = Q(state=State.IN_REVIEW)
    else:
        queryset = quorum.with_side_approvals(queryset, side)
        waits = _waits_for_decision_of(user, side) | Q(proposer=user, state=State.CHANGES_REQUESTED)
    return with_waited_from(queryset.filter(waits)).order_by("waited_from", "pk")


def with_waited_from(queryset):
    """`waited_from`: when the nomination's current wait began. In review, since it was
    (re)submitted; otherwise since its last change (changes requested, a draft saved)."""
    return queryset.annotate(waited_from=Coalesce("waiting_since", "updated_at"))


def proposals_of(user) -> QuerySet[Nomination]:
    return with_waited_from(nominations_for_list(owners=False).filter(proposer=user)).order_by(
        "-updated_at"
    )


QUEUE_SORTS = {
    "oldest": ("Waiting longest", ["waited_from", "pk"]),
    "newest": ("Newest", ["-waited_from", "-pk"]),
    "tier": ("Tier", [F("tier").asc(nulls_last=True), "waited_from", "pk"]),
    "cycle": ("Cycle", ["-cycle__starts_on", "cycle__name", "waited_from", "pk"]),
    "account": ("Account", ["account__name", "pk"]),
    "fit": ("Fit score", [F("account__fit_score").desc(nulls_last=True), "waited_from", "pk"]),
}
OVERDUE = "overdue"


def queue_filter(queryset, *, cycles, now, cycle=None, tier=None, age=None, sort=None):
    """Narrow and order a queue tab (rows with `waited_from`).

    `age` is a number of days waited at least, or OVERDUE: waited at least the reminder delay
    of its cycle (`cycles`: every cycle the rows may belong to, with their settings, so that
    the condition is one OR per cycle instead of date arithmetic in SQL).
    """
    if cycle:
        queryset = queryset.filter(cycle_id=cycle)
    if tier:
        queryset = queryset.filter(tier=tier)
    if age == OVERDUE:
        overdue = Q(pk__in=[])
        for c in cycles:
            since = now - timedelta(hours=c.reminder_after_hours)
            overdue |= Q(cycle_id=c.pk, waited_from__lte=since)
        queryset = queryset.filter(overdue)
    elif age:
        queryset = queryset.filter(waited_from__lte=now - timedelta(days=int(age)))
    if sort in QUEUE_SORTS:
        queryset = queryset.order_by(*QUEUE_SORTS[sort][1])
    return queryset


def mentions_of(user) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(mentions=user)
        .select_related("author", "nomination", "nomination__account", "nomination__cycle")
        .order_by("-created_at")
    )


def active_targets(cycle: Cycle) -> QuerySet[TargetAccount]:
    """The cycle's agreed list with what the cycle page shows of each entry, and no more (a
    quarter of the time of reading the page's rows went to columns it never shows)."""
    return (
        TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True)
        .select_related("account", "sales_owner", "marketing_owner")
        .only(
            "tier",
            "added_at",
            "account__name",
            "account__domain",
            "nomination_id",
            "last_nomination_id",
            *(
                f"{owner}__{field}"
                for owner in ("sales_owner", "marketing_owner")
                for field in _PERSON
            ),
        )
    )


def _seats(cycle_ids) -> QuerySet:
    return (
        TargetAccount.objects.filter(cycle_id__in=list(cycle_ids), removed_at__isnull=True)
        .values_list("cycle_id", "tier")
        .annotate(n=Count("pk"))
    )


def seats_taken(cycle_ids) -> dict[tuple[int, int], int]:
    """{(cycle id, tier): accounts on the list now} for the given cycles, in one query."""
    return {(cycle_id, tier): n for cycle_id, tier, n in _seats(cycle_ids)}


# The tiers' usage is on the cycle page, the nominate form and approvers' nomination pages: its
# two queries are compiled once per process (core/prepared.py).
_SEATS_OF_A_CYCLE = Prepared(lambda cycle_id: _seats([cycle_id]), cycle_id=int)
_TIERS_OF = Prepared(lambda cycle: cycle.tiers.all(), cycle=Cycle)


def tier_usage(cycle: Cycle) -> list[dict]:
    """[{number, capacity, used, percent, full, full_message, required_roles}] for the three
    tiers. `full_message` is the warning shown before a full tier is proposed or approved."""
    used = {(c, tier): n for c, tier, n in _SEATS_OF_A_CYCLE.fetch(cycle_id=cycle.pk)}
    rows = []
    for tier in _TIERS_OF.fetch(cycle=cycle):
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
