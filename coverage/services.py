"""Every write of coverage: taking a cycle's snapshot (the task, the command, the admin action
and the post-pull hook all call `snapshot_take`), and asking for one.

The numbers come from a handful of aggregate queries over contacts, roles, activities and
opportunities (GROUP BY account), assembled into one row per target account and bulk-inserted;
the cycle's aggregates are then GROUP BY queries over those rows. Nothing here loops over
contacts, activities or opportunities in Python. docs/metrics.md defines every number.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings as django_settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.db.models import Count, Exists, JSONField, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts_app.models import Activity, Contact, ContactRole, Opportunity, OpportunityStatus
from core.agreements import agreed_version_create, agreed_version_sign_off, agreed_version_submit
from core.roles import Side, require_ops
from coverage import definitions
from coverage.definitions import FURTHER_THAN_AWARE, GAPS, Windows, stage_rank
from coverage.models import (
    AccountCoverage,
    DefinitionsVersion,
    Gap,
    Snapshot,
    SnapshotState,
    Stage,
    gap_field,
)
from coverage.selectors import definitions_effective
from workflow.models import (
    OPEN_STATES,
    Comment,
    Cycle,
    CycleState,
    Decision,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    State,
    TargetAccount,
    Tier,
)

BATCH = 2000
ZERO = Decimal("0")

Progress = Callable[[int, int], None]


# --- Per account ---------------------------------------------------------------------------


def _targets_at(cycle: Cycle, as_of: datetime):
    """The entries on the cycle's list at `as_of`."""
    return TargetAccount.objects.filter(cycle=cycle, added_at__lte=as_of).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=as_of)
    )


def _by_account(rows, key: str = "account_id") -> dict:
    return {row.pop(key): row for row in rows}


def _fetch(sql: str, params) -> list[tuple]:
    """Rows as plain tuples: the per-account counts need none of the ORM's converters, which
    cost more than the query at 20,000 accounts."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _tuples(queryset) -> list[tuple]:
    """A values() queryset's rows as tuples (its fields, then its annotations, in order)."""
    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. `role IN ()` when no tier requires a role
        return []
    return _fetch(sql, params)


def _contacts_and_engaged(account_ids: Subquery, w: Windows) -> dict[int, dict]:
    """{account id: {"contacts": n, "engaged": n}} in one pass over the contacts.

    A contact is engaged if it has an activity in the window or its last_engaged_at is in it:
    contacts LEFT JOIN the distinct contacts of the window's activities. (The ORM cannot join a
    derived table. An uncorrelated `pk IN (…)` inside the count is hashed only while it fits in
    work_mem, past that PostgreSQL rescans it for every contact: minutes at 40,000 accounts; an
    EXISTS per contact, or a distinct count plus an anti-join, read the activities twice.)
    """
    active_sql, active_params = (
        Activity.objects.filter(
            contact__isnull=False,
            occurred_at__gt=w.engagement_from,
            occurred_at__lte=w.as_of,
        )
        .order_by()
        .values("contact_id")
        .distinct()
        .query.sql_with_params()
    )
    targets_sql, targets_params = account_ids.query.sql_with_params()
    q = connection.ops.quote_name
    field = Contact._meta.get_field
    contact = q(Contact._meta.db_table)
    account_id, last_engaged, pk = (
        q(field(name).column) for name in ("account", "last_engaged_at", "id")
    )
    adapt = connection.ops.adapt_datetimefield_value
    rows = _fetch(
        f"""SELECT c.{account_id}, COUNT(*),
               SUM(CASE WHEN a.contact_id IS NOT NULL
                         OR (c.{last_engaged} > %s AND c.{last_engaged} <= %s)
                        THEN 1 ELSE 0 END)
            FROM {contact} c LEFT JOIN ({active_sql}) a ON a.contact_id = c.{pk}
            WHERE c.{account_id} IN ({targets_sql})
            GROUP BY c.{account_id}""",
        (adapt(w.engagement_from), adapt(w.as_of), *active_params, *targets_params),
    )
    return {account: {"contacts": n, "engaged": engaged} for account, n, engaged in rows}


def _account_rows(*, cycle: Cycle, targets, w: Windows, taken_on: date, previous) -> list:
    """The fields (by attname) of one AccountCoverage per target account, from six aggregate
    queries. Plain dicts: building 20,000 model instances costs more than the queries."""
    # Unordered: the list's order (a join to accounts and a sort) is of no use inside IN (…).
    account_ids = Subquery(targets.order_by().values("account_id"))
    entries = list(
        targets.annotate(
            sales=Coalesce("sales_owner_id", "account__sales_owner_id"),
            marketing=Coalesce("marketing_owner_id", "account__marketing_owner_id"),
        )
        .values("pk", "account_id", "tier", "sales", "marketing")
        .order_by("tier", "account__name", "pk")
    )
    required = {
        tier["number"]: [str(r) for r in tier["required_roles"]]
        for tier in Tier.objects.filter(cycle=cycle).values("number", "required_roles")
    }
    wanted = sorted({role for roles in required.values() for role in roles})

    # One row per account, a count per wanted role (a contact with several roles is in each).
    held: dict[int, set[str]] = {
        account: {role for role, n in zip(wanted, counts, strict=True) if n}
        for account, *counts in _tuples(
            ContactRole.objects.filter(contact__account_id__in=account_ids, role__in=wanted)
            .values("contact__account_id")
            .annotate(**{role: Count("pk", filter=Q(role=role)) for role in wanted})
            .order_by()
        )
    }

    contacts = _contacts_and_engaged(account_ids, w)

    def touches(side: str, since: datetime, until: datetime = w.as_of):
        return Count("pk", filter=Q(side=side, occurred_at__gt=since, occurred_at__lte=until))

    touch_keys = ("m_short", "s_short", "m_long", "s_long", "m_follow", "s_follow")
    touch_keys += ("cold_recent", "cold_old")
    touched = {
        account: dict(zip(touch_keys, counts, strict=True))
        for account, *counts in _tuples(
            Activity.objects.filter(
                account_id__in=account_ids,
                occurred_at__gt=min(w.long_from, w.cold_from, w.follow_up_from),
                occurred_at__lte=w.as_of,
            )
            .values("account_id")
            .annotate(
                m_short=touches(Side.MARKETING, w.short_from),
                s_short=touches(Side.SALES, w.short_from),
                m_long=touches(Side.MARKETING, w.long_from),
                s_long=touches(Side.SALES, w.long_from),
                m_follow=touches(Side.MARKETING, w.follow_up_from),
                s_follow=touches(Side.SALES, w.follow_up_from),
                cold_recent=Count("pk", filter=Q(occurred_at__gt=w.cold_recent_from)),
                cold_old=Count(
                    "pk", filter=Q(occurred_at__gt=w.cold_from, occurred_at__lte=w.cold_recent_from)
                ),
            )
            .order_by()
        )
    }
    opportunities = _by_account(
        Opportunity.objects.filter(account_id__in=account_ids)
        .values("account_id")
        .annotate(
            open=Count("pk", filter=Q(status=OpportunityStatus.OPEN)),
            pipeline=Sum("amount", filter=Q(status=OpportunityStatus.OPEN), default=ZERO),
            won=Count("pk", filter=Q(status=OpportunityStatus.WON)),
            won_amount=Sum("amount", filter=Q(status=OpportunityStatus.WON), default=ZERO),
        )
        .order_by()
    )
    before = (
        _by_account(
            AccountCoverage.objects.filter(snapshot=previous)
            .values("account_id", "stage", "stage_since", "first_stage")
            .order_by()
        )
        if previous is not None
        else {}
    )

    rows = []
    no_touches = dict.fromkeys(touch_keys, 0)
    for position, entry in enumerate(entries):
        account_id = entry["account_id"]
        people = contacts.get(account_id, {"contacts": 0, "engaged": 0})
        t = touched.get(account_id, no_touches)
        opp = opportunities.get(
            account_id, {"open": 0, "pipeline": ZERO, "won": 0, "won_amount": ZERO}
        )
        roles = required.get(entry["tier"], [])
        covered, missing, share = definitions.coverage_of(
            roles, held.get(account_id, set()), people["contacts"]
        )
        stage = definitions.stage_of(
            won=opp["won"],
            open_opportunities=opp["open"],
            engaged_contacts=people["engaged"],
            marketing_short=t["m_short"],
            sales_short=t["s_short"],
            touches_long=t["m_long"] + t["s_long"],
            engaged_min_contacts=w.engaged_min_contacts,
        )
        last = before.get(account_id)
        gaps = {
            Gap.NO_SALES_FOLLOW_UP: bool(t["m_follow"] and not t["s_follow"]),
            Gap.MISSING_ROLE: bool(missing),
            Gap.SINGLE_THREADED: people["engaged"] == 1,
            Gap.GONE_COLD: bool(t["cold_old"] and not t["cold_recent"]),
            Gap.NO_SALES_OWNER: entry["sales"] is None,
            Gap.NO_MARKETING_OWNER: entry["marketing"] is None,
        }
        rows.append(
            dict(
                target_id=entry["pk"],
                account_id=account_id,
                position=position,
                tier=entry["tier"],
                sales_owner_id=entry["sales"],
                marketing_owner_id=entry["marketing"],
                required_roles=roles,
                covered_roles=covered,
                missing_roles=missing,
                coverage=share,
                contacts=people["contacts"],
                engaged_contacts=people["engaged"],
                marketing_touches_30d=t["m_short"],
                sales_touches_30d=t["s_short"],
                marketing_touches_90d=t["m_long"],
                sales_touches_90d=t["s_long"],
                open_opportunities=opp["open"],
                open_pipeline=opp["pipeline"],
                won_amount=opp["won_amount"],
                stage=stage,
                stage_since=last["stage_since"] if last and last["stage"] == stage else taken_on,
                first_stage=last["first_stage"] if last else stage,
                **{gap_field(code): value for code, value in gaps.items()},
            )
        )
    return rows


def _insert(snapshot: Snapshot, rows: list[dict]) -> None:
    """Insert the rows: with COPY on PostgreSQL (several times faster than INSERT for
    thousands of rows of a dozen indexed columns), with bulk_create elsewhere."""
    if connection.vendor != "postgresql":
        AccountCoverage.objects.bulk_create(
            AccountCoverage(snapshot=snapshot, **row) for row in rows
        )
        return
    fields = [
        f
        for f in AccountCoverage._meta.concrete_fields
        if not f.primary_key and f.attname != "snapshot_id"
    ]
    json_fields = {f.attname for f in fields if isinstance(f, JSONField)}
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(AccountCoverage._meta.db_table)
    copy_sql = f"COPY {table} (snapshot_id, {columns}) FROM STDIN"
    # The role lists repeat (a tier's required roles, a handful of covered/missing sets): each
    # distinct one is written as JSON text once, which PostgreSQL parses into jsonb.
    as_json: dict[tuple, str] = {}

    def value(row: dict, field: str):
        if field not in json_fields:
            return row[field]
        key = tuple(row[field])
        if key not in as_json:
            as_json[key] = json.dumps(row[field])
        return as_json[key]

    names = [f.attname for f in fields]
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row([snapshot.pk, *(value(row, name) for name in names)])


# --- Aggregates over the rows ----------------------------------------------------------------


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _money(value) -> str:
    return str((value or ZERO).quantize(Decimal("0.01")))


def _metric_columns() -> dict:
    return {
        "n": Count("pk"),
        "fully_covered": Count("pk", filter=Q(coverage__gte=1)),
        "engaged_or_further": Count("pk", filter=Q(stage__in=FURTHER_THAN_AWARE)),
        "pipeline": Sum("open_pipeline", default=ZERO),
        "won": Sum("won_amount", default=ZERO),
        **{f"gap__{code}": Count("pk", filter=Q(**{gap_field(code): True})) for code in GAPS},
    }


def _metrics(row: dict) -> dict:
    n = row["n"]
    return {
        "accounts": n,
        "fully_covered_share": _share(row["fully_covered"], n),
        "engaged_or_further_share": _share(row["engaged_or_further"], n),
        "open_pipeline": _money(row["pipeline"]),
        "won_amount": _money(row["won"]),
        "gaps": {code: row[f"gap__{code}"] for code in GAPS},
    }


def _owner_groups(rows, side: str) -> list[dict]:
    field = f"{side}_owner"
    groups = (
        rows.values(field, f"{field}__username", f"{field}__first_name", f"{field}__last_name")
        .annotate(**_metric_columns())
        .order_by(f"{field}__username", field)
    )
    result = []
    for row in groups:
        owner = None
        if row[field] is not None:
            name = f"{row[f'{field}__first_name']} {row[f'{field}__last_name']}".strip()
            owner = {
                "id": row[field],
                "username": row[f"{field}__username"],
                "name": name or row[f"{field}__username"],
            }
        result.append({"owner": owner, **_metrics(row)})
    return result


def _delta(now: dict, then: dict) -> dict:
    def diff(key):
        a, b = now[key], then[key]
        return None if a is None or b is None else round(a - b, 4)

    return {
        "accounts": now["accounts"] - then["accounts"],
        "fully_covered_share": diff("fully_covered_share"),
        "engaged_or_further_share": diff("engaged_or_further_share"),
        "open_pipeline": _money(Decimal(now["open_pipeline"]) - Decimal(then["open_pipeline"])),
        "won_amount": _money(Decimal(now["won_amount"]) - Decimal(then["won_amount"])),
        "gaps": {code: now["gaps"][code] - then["gaps"].get(code, 0) for code in GAPS},
    }


def _trend(cycle_metrics: dict, earlier: Snapshot | None) -> dict | None:
    if earlier is None or "cycle" not in earlier.aggregates:
        return None
    return {
        "snapshot": earlier.pk,
        "taken_on": earlier.taken_on.isoformat(),
        "change": _delta(cycle_metrics, earlier.aggregates["cycle"]),
    }


def _median(values: list) -> float | None:
    return round(float(statistics.median(values)), 2) if values else None


def _stages(snapshot: Snapshot, rows) -> dict:
    """Counts per stage, median days in each stage over the cycle's stays, and the share of
    accounts further along than in their first snapshot of the cycle."""
    counts = dict.fromkeys(Stage.values, 0)
    moved = 0
    total = 0
    for row in rows.values("first_stage", "stage").annotate(n=Count("pk")).order_by():
        counts[row["stage"]] += row["n"]
        total += row["n"]
        if stage_rank(row["stage"]) > stage_rank(row["first_stage"]):
            moved += row["n"]

    # A stay is one (account, stage, stage_since) across the cycle's snapshots up to this one
    # (the day's earlier snapshot, which this one replaces, left out).
    stays = (
        AccountCoverage.objects.filter(snapshot__cycle_id=snapshot.cycle_id)
        .filter(
            Q(snapshot=snapshot)
            | Q(snapshot__state=SnapshotState.DONE, snapshot__taken_on__lt=snapshot.taken_on)
        )
        .values("account_id", "stage", "stage_since")
        .annotate(last_seen=Max("snapshot__taken_on"))
        .order_by("account_id", "stage_since")
    )
    days: dict[str, list[int]] = defaultdict(list)
    previous = None
    for stay in stays:
        if previous is not None and previous["account_id"] == stay["account_id"]:
            # It ended when the next stay began.
            days[previous["stage"]].append((stay["stage_since"] - previous["stage_since"]).days)
        elif previous is not None:
            days[previous["stage"]].append(_open_stay_days(previous))
        previous = stay
    if previous is not None:
        days[previous["stage"]].append(_open_stay_days(previous))
    return {
        "accounts": counts,
        "median_days": {stage: _median(days.get(stage, [])) for stage in Stage.values},
        "moved_on_share": _share(moved, total),
    }


def _open_stay_days(stay: dict) -> int:
    # Still in it today, or the account left the list: it lasted until last seen.
    return (stay["last_seen"] - stay["stage_since"]).days


def _aggregates(snapshot: Snapshot, *, previous: Snapshot | None, first: Snapshot | None):
    rows = AccountCoverage.objects.filter(snapshot=snapshot)
    cycle_metrics = _metrics(rows.aggregate(**_metric_columns()))
    tiers = [
        {"tier": row["tier"], **_metrics(row)}
        for row in rows.values("tier").annotate(**_metric_columns()).order_by("tier")
    ]
    both_owners = rows.filter(gap_no_sales_owner=False, gap_no_marketing_owner=False).count()
    return {
        "cycle": cycle_metrics,
        "tiers": tiers,
        "sales_owners": _owner_groups(rows, "sales"),
        "marketing_owners": _owner_groups(rows, "marketing"),
        "stages": _stages(snapshot, rows),
        "trend": {
            "previous": _trend(cycle_metrics, previous),
            "first": _trend(cycle_metrics, first),
        },
    }, _share(both_owners, cycle_metrics["accounts"])


# --- Alignment -------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 2)


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


def _side_shares(counts: dict) -> dict:
    total = sum(counts.values())
    return {
        "total": total,
        **{side: counts.get(side, 0) for side in Side.values},
        **{f"{side}_share": _share(counts.get(side, 0), total) for side in Side.values},
    }


def _waiting_hours(cycle: Cycle, as_of: datetime) -> dict:
    """Hours each side kept nominations waiting: in each round of review, from its start until
    the side settled it (its quorum of approvals, or its rejection or request for changes), or
    until the round ended, or until `as_of`."""
    rounds: dict[tuple[int, int], dict] = {}
    for event in (
        NominationEvent.objects.filter(nomination__cycle=cycle, created_at__lte=as_of)
        .values("nomination_id", "round", "from_state", "to_state", "created_at")
        .order_by("created_at", "pk")
    ):
        key = (event["nomination_id"], event["round"])
        if event["to_state"] == State.IN_REVIEW and event["from_state"] != State.IN_REVIEW:
            rounds[key] = {"start": event["created_at"], "end": None}
        elif (
            key in rounds
            and rounds[key]["end"] is None
            and event["from_state"] == State.IN_REVIEW
            and event["to_state"] != State.IN_REVIEW
        ):
            rounds[key]["end"] = event["created_at"]
    settled: dict[tuple[int, int, str], datetime] = {}
    approvals: dict[tuple[int, int, str], int] = defaultdict(int)
    for sign_off in (
        SignOff.objects.filter(nomination__cycle=cycle, created_at__lte=as_of)
        .values("nomination_id", "round", "side", "decision", "created_at")
        .order_by("created_at", "pk")
    ):
        key = (sign_off["nomination_id"], sign_off["round"], sign_off["side"])
        if key in settled:
            continue
        if sign_off["decision"] == Decision.APPROVE:
            approvals[key] += 1
            if approvals[key] < cycle.quorum(sign_off["side"]):
                continue
        settled[key] = sign_off["created_at"]
    totals = dict.fromkeys(Side.values, 0.0)
    for (nomination_id, number), spell in rounds.items():
        end = spell["end"] or as_of
        for side in Side.values:
            until = min(settled.get((nomination_id, number, side), end), end)
            totals[side] += max(0.0, _hours(spell["start"], until))
    return {side: round(hours, 2) for side, hours in totals.items()}


def _alignment(cycle: Cycle, as_of: datetime, both_owners_share: float | None) -> dict:
    nominations = Nomination.objects.filter(cycle=cycle, created_at__lte=as_of)
    by_state = dict(
        nominations.values_list("state")
        .annotate(n=Count("pk"))
        .order_by()
        .values_list("state", "n")
    )
    total = sum(by_state.values())
    open_count = sum(by_state.get(s, 0) for s in OPEN_STATES)
    disputed = nominations.filter(
        Exists(
            SignOff.objects.filter(
                nomination=OuterRef("pk"),
                decision__in=[Decision.REJECT, Decision.REQUEST_CHANGES],
                created_at__lte=as_of,
            )
        )
    ).count()
    decision_hours = [
        _hours(submitted, decided)
        for submitted, decided in nominations.filter(
            state__in=[State.APPROVED, State.REJECTED],
            submitted_at__isnull=False,
            decided_at__lte=as_of,
        ).values_list("submitted_at", "decided_at")
    ]
    proposals = dict(
        nominations.values("proposer_side")
        .annotate(n=Count("pk"))
        .values_list("proposer_side", "n")
    )
    decisions = dict(
        SignOff.objects.filter(nomination__cycle=cycle, by_submission=False, created_at__lte=as_of)
        .values("side")
        .annotate(n=Count("pk"))
        .values_list("side", "n")
    )
    comments = dict(
        Comment.objects.filter(nomination__cycle=cycle, created_at__lte=as_of)
        .values("author_side")
        .annotate(n=Count("pk"))
        .values_list("author_side", "n")
    )
    first_version = (
        ListVersion.objects.filter(cycle=cycle, published_at__lte=as_of).order_by("number").first()
    )
    list_changes = None
    if first_version is not None:
        kinds = dict(
            Nomination.objects.filter(
                cycle=cycle,
                state=State.APPROVED,
                decided_at__gt=first_version.published_at,
                decided_at__lte=as_of,
            )
            .values("kind")
            .annotate(n=Count("pk"))
            .values_list("kind", "n")
        )
        list_changes = {
            "first_version": first_version.number,
            "published_at": first_version.published_at.isoformat(),
            "changes": sum(kinds.values()),
            "added": kinds.get("add", 0),
            "tier_changed": kinds.get("change_tier", 0),
            "removed": kinds.get("remove", 0),
        }
    return {
        "nominations": {
            "total": total,
            "approved": by_state.get(State.APPROVED, 0),
            "rejected": by_state.get(State.REJECTED, 0),
            "withdrawn": by_state.get(State.WITHDRAWN, 0),
            "open": open_count,
            "disputed": disputed,
            "approved_share": _share(by_state.get(State.APPROVED, 0), total),
            "rejected_share": _share(by_state.get(State.REJECTED, 0), total),
            "withdrawn_share": _share(by_state.get(State.WITHDRAWN, 0), total),
            "open_share": _share(open_count, total),
            "disputed_share": _share(disputed, total),
        },
        "hours_to_decision": {
            "decided": len(decision_hours),
            "median": _percentile(decision_hours, 0.5),
            "p90": _percentile(decision_hours, 0.9),
        },
        "hours_waiting": _waiting_hours(cycle, as_of),
        "proposals": _side_shares(proposals),
        "decisions": _side_shares(decisions),
        "comments": _side_shares(comments),
        "both_owners_share": both_owners_share,
        "list_changes_after_first_version": list_changes,
    }


# --- Taking a snapshot -----------------------------------------------------------------------


def _done(cycle: Cycle):
    return Snapshot.objects.filter(cycle=cycle, state=SnapshotState.DONE)


def snapshot_take(
    *, cycle: Cycle, as_of: datetime | None = None, progress: Progress | None = None
) -> Snapshot:
    """Compute and store the cycle's coverage as of `as_of` (default now). Returns the snapshot.

    1. A running snapshot is saved at once (its progress, done of total accounts, is visible
       while it runs), with the effective definitions version and a copy of its settings.
    2. Its account rows are computed from aggregate queries and inserted in batches; the
       stage is carried over from the previous day's snapshot (stage_since).
    3. The aggregates (cycle, tiers, owners, stages, trend) and alignment are computed.
    4. In one transaction, with the cycle's row locked so two runs of one day are serialised,
       the day's earlier snapshot is deleted and this one marked done: readers see the old
       one or the new one, never a mix. On any error the snapshot is marked failed.
    """
    as_of = as_of or timezone.now()
    taken_on = timezone.localdate(as_of)
    version = definitions_effective()
    settings = definitions.settings_validate(version.settings)
    windows = Windows.of(settings, as_of)
    targets = _targets_at(cycle, as_of)
    total = targets.count()
    snapshot = Snapshot.objects.create(
        cycle=cycle,
        taken_on=taken_on,
        as_of=as_of,
        definitions_version=version,
        settings=settings,
        total=total,
    )
    if progress is not None:
        progress(0, total)
    try:
        done = _done(cycle).filter(taken_on__lt=taken_on)
        previous = done.order_by("-taken_on", "-pk").first()
        first = done.order_by("taken_on", "pk").first()
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:  # for this transaction only
                    cursor.execute(
                        "SELECT set_config('work_mem', %s, true)",
                        [django_settings.COVERAGE_SNAPSHOT_WORK_MEM],
                    )
            rows = _account_rows(
                cycle=cycle, targets=targets, w=windows, taken_on=taken_on, previous=previous
            )
        if len(rows) != total:  # the list changed since it was counted
            total = len(rows)
            Snapshot.objects.filter(pk=snapshot.pk).update(total=total)
        for start in range(0, len(rows), BATCH):
            batch = rows[start : start + BATCH]
            _insert(snapshot, batch)
            count = start + len(batch)
            Snapshot.objects.filter(pk=snapshot.pk).update(done=count)
            if progress is not None:
                progress(count, total)
        aggregates, both_owners = _aggregates(snapshot, previous=previous, first=first)
        alignment = _alignment(cycle, as_of, both_owners)
        with transaction.atomic():
            Cycle.objects.select_for_update(no_key=True).get(pk=cycle.pk)
            _done(cycle).filter(taken_on=taken_on).exclude(pk=snapshot.pk).delete()
            Snapshot.objects.filter(pk=snapshot.pk).update(
                state=SnapshotState.DONE,
                done=total,
                aggregates=aggregates,
                alignment=alignment,
                finished_at=timezone.now(),
            )
    except BaseException as error:
        AccountCoverage.objects.filter(snapshot=snapshot).delete()
        Snapshot.objects.filter(pk=snapshot.pk).update(
            state=SnapshotState.FAILED,
            message=f"{type(error).__name__}: {error}"[:2000],
            finished_at=timezone.now(),
        )
        raise
    snapshot.refresh_from_db()
    return snapshot


def active_cycle_ids() -> list[int]:
    return list(
        Cycle.objects.filter(state=CycleState.ACTIVE).order_by("pk").values_list("pk", flat=True)
    )


def snapshot_request(*, cycle: Cycle, by) -> None:
    """Ops ask for today's snapshot of a cycle now (admin): a task after commit."""
    require_ops(by, "take coverage snapshots")
    from coverage import tasks

    transaction.on_commit(lambda: tasks.snapshot_cycle.delay(cycle.pk), robust=True)


def snapshots_after_pull(*, state: str, more_to_pull: bool) -> None:
    """A CRM pull finished (core.hooks.pull_finished): snapshot every active cycle after
    commit, unless the pull failed or handed over to another task that carries on (that one
    sends its own)."""
    if state not in ("succeeded", "partial") or more_to_pull:
        return
    from coverage import tasks

    transaction.on_commit(lambda: tasks.snapshot_active_cycles.delay(), robust=True)


# --- The definitions' settings, agreed by both sides -----------------------------------------


def definitions_version_create(*, settings: dict, by, name: str = "") -> DefinitionsVersion:
    """A draft of new settings for the metric definitions (any member), checked in full."""
    cleaned = definitions.settings_validate(settings)
    return agreed_version_create(model=DefinitionsVersion, name=name, by=by, settings=cleaned)


def definitions_version_submit(*, version: DefinitionsVersion, by) -> DefinitionsVersion:
    """Put a draft up for both sides' sign-off (core.agreements, as the ideal customer
    profile): it takes effect only once an approver of each side approved it."""
    return agreed_version_submit(version=version, by=by)


def definitions_sign_off(
    *, version: DefinitionsVersion, by, approve: bool, note: str = ""
) -> DefinitionsVersion:
    """One approver's decision; the version that takes effect is used from the next snapshot
    on (today's are taken again after commit), and earlier snapshots keep theirs."""
    return agreed_version_sign_off(version=version, by=by, approve=approve, note=note)
