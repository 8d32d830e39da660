"""Every write of coverage: taking a cycle's snapshot (the task, the command, the admin action
and the post-pull hook all call `snapshot_take`), and asking for one.

The rows, one per target account, are computed and inserted by one INSERT … SELECT of aggregate
queries over contacts, roles, activities and opportunities (GROUP BY account); the cycle's
aggregates are then GROUP BY queries over those rows. Nothing here loops over
contacts, activities or opportunities in Python. docs/metrics.md defines every number.
"""

from __future__ import annotations

import contextlib
import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Sum, Window
from django.db.models.functions import Coalesce, RowNumber
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
from coverage.selectors import definitions_effective, forget_latest_key, stale_before
from workflow import quorum
from workflow.models import (
    OPEN_STATES,
    TIERS,
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

ZERO = Decimal("0")

Progress = Callable[[int, int], None]


# --- Per account ---------------------------------------------------------------------------


def _targets_at(cycle: Cycle, as_of: datetime):
    """The entries on the cycle's list at `as_of`."""
    return TargetAccount.objects.filter(cycle=cycle, added_at__lte=as_of).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=as_of)
    )


def _typed(field) -> str:
    """A parameter placeholder with the column's type, which PostgreSQL needs where nothing
    else in the statement types it (SQLite has no such types: a cast there would change the
    value, e.g. a date to a number)."""
    if connection.vendor == "postgresql":
        return f"CAST(%s AS {field.db_type(connection)})"
    return "%s"


def _sql(queryset) -> tuple[str, tuple]:
    sql, params = queryset.query.sql_with_params()
    return sql, tuple(params)


# The columns the snapshot's statement writes, in its order; every other concrete field of
# AccountCoverage is the primary key.
ROW_COLUMNS = (
    "snapshot_id",
    "target_id",
    "account_id",
    "position",
    "tier",
    "sales_owner_id",
    "marketing_owner_id",
    "required_roles",
    "covered_roles",
    "missing_roles",
    "coverage",
    "contacts",
    "engaged_contacts",
    "marketing_touches_30d",
    "sales_touches_30d",
    "marketing_touches_90d",
    "sales_touches_90d",
    "open_opportunities",
    "open_pipeline",
    "won_amount",
    "stage",
    "stage_since",
    "first_stage",
    *(gap_field(code) for code in GAPS),
)


def _rows_insert(
    *, snapshot: Snapshot, cycle: Cycle, targets, w: Windows, taken_on: date, previous
) -> int:
    """Compute and insert one AccountCoverage per target account in one SELECT, on PostgreSQL
    as on SQLite; returns the number of rows. Nothing of it passes through Python:
    at 20,000 accounts, assembling the rows in Python and sending them back cost as much as
    computing them.

    The statement's parts (common table expressions), each one pass GROUP BY account:
    - `entries`: the list's entries with their owners (the entry's, else the account's) and
      their position (tier, account name, entry);
    - `masks`: per account, a bit mask of the wanted roles its contacts hold (a contact with
      several roles sets each one's bit);
    - `touched`: the activities of the widest touch window, counted by side and window;
    - `people`: per account, its contacts and the engaged ones (an activity of the account in
      the engagement window, or last_engaged_at in it);
    - `deals`: open and won opportunities and their amounts;
    - `roles`: definitions.coverage_table, the covered and missing roles and the coverage of
      each set of roles an account of each tier can hold, joined on the account's mask;
    - `before`: the previous snapshot's stage of each account, which keeps `stage_since`.
    The stage is definitions.stage_sql; the gaps are docs/metrics.md's, in SQL.

    Each part is grouped once, by account, and joined to the list at the account's level: an
    earlier form grouped activities by account and contact and joined contacts to their role
    masks row by row, which cost a third more. On PostgreSQL the rows are computed by CREATE
    TEMPORARY TABLE … AS, which may use parallel workers (an INSERT … SELECT never does), and
    then inserted from it.
    """
    q = connection.ops.quote_name
    adapt = connection.ops.adapt_datetimefield_value
    table = {model: q(model._meta.db_table) for model in (Activity, Contact, ContactRole)}
    opportunity = q(Opportunity._meta.db_table)
    coverage = q(AccountCoverage._meta.db_table)

    entries_sql, entries_params = _sql(
        targets.annotate(
            sales=Coalesce("sales_owner_id", "account__sales_owner_id"),
            marketing=Coalesce("marketing_owner_id", "account__marketing_owner_id"),
            row=Window(RowNumber(), order_by=[F("tier"), F("account__name"), F("pk")]),
        )
        .values("pk", "account_id", "tier", "sales", "marketing", "row")
        .order_by()
    )
    # The accounts again, as a subquery the database plans with its statistics of the list
    # (`entries` is materialised, and PostgreSQL guessed it held 200 accounts).
    ids_sql, ids_params = _sql(targets.order_by().values("account_id"))
    required = {number: [] for number in TIERS}
    required.update(
        (tier["number"], [str(r) for r in tier["required_roles"]])
        for tier in Tier.objects.filter(cycle=cycle).values("number", "required_roles")
    )
    wanted = sorted({role for roles in required.values() for role in roles})
    # An account's mask: the OR of its contacts' roles' bits (SQLite has no bit_or).
    mask = " + ".join(
        f"MAX(CASE WHEN r.role = %s THEN {1 << i} ELSE 0 END)" for i in range(len(wanted))
    )
    masks_sql = f"""
            SELECT c.account_id, {mask} AS mask
            FROM {table[ContactRole]} r JOIN {table[Contact]} c ON c.id = r.contact_id
            WHERE r.role IN ({", ".join(["%s"] * len(wanted))})
              AND c.account_id IN (SELECT account_id FROM ids)
            GROUP BY c.account_id"""
    if not wanted:  # no tier requires a role
        masks_sql = f"SELECT account_id, 0 AS mask FROM {table[Contact]} WHERE 1 = 0"
    # The account's mask restricted to its tier's roles, the key into `roles` with the tier.
    tier_mask = "CASE e.tier {} ELSE 0 END".format(
        " ".join(
            f"WHEN {int(number)} THEN {definitions.tier_mask(roles, wanted)}"
            for number, roles in sorted(required.items())
        )
    )
    json_type = _typed(AccountCoverage._meta.get_field("required_roles"))
    lookup = definitions.coverage_table(required, wanted)
    roles_sql = " UNION ALL ".join(
        f"SELECT %s AS tier, %s AS mask, {json_type} AS required, "
        f"{json_type} AS covered, {json_type} AS missing, %s AS any_missing, "
        "%s AS with_contacts, %s AS without_contacts"
        for _ in lookup
    )
    roles_params = []
    for tier, held_mask, roles, covered, missing, with_contacts, without in lookup:
        roles_params += [tier, held_mask]
        roles_params += [json.dumps(roles), json.dumps(covered), json.dumps(missing)]
        roles_params += [1 if missing else 0, with_contacts, without]

    def count(condition: str) -> str:
        return f"COUNT(*) FILTER (WHERE {condition})"

    marketing, sales = Side.MARKETING.value, Side.SALES.value
    windows = {
        "m_short": (f"side = '{marketing}' AND occurred_at > %s", w.short_from),
        "s_short": (f"side = '{sales}' AND occurred_at > %s", w.short_from),
        "m_long": (f"side = '{marketing}' AND occurred_at > %s", w.long_from),
        "s_long": (f"side = '{sales}' AND occurred_at > %s", w.long_from),
        "m_follow": (f"side = '{marketing}' AND occurred_at > %s", w.follow_up_from),
        "s_follow": (f"side = '{sales}' AND occurred_at > %s", w.follow_up_from),
        "cold_recent": ("occurred_at > %s", w.cold_recent_from),
        "cold_old": ("occurred_at > %s AND occurred_at <= %s", w.cold_from),
    }
    window_params = []
    for name, (_, since) in windows.items():
        window_params.append(adapt(since))
        if name == "cold_old":
            window_params.append(adapt(w.cold_recent_from))
    widest = min(w.long_from, w.cold_from, w.follow_up_from, w.short_from)
    stage = definitions.stage_sql(
        won="won",
        open_opportunities="open_opportunities",
        engaged_contacts="engaged_contacts",
        marketing_short="marketing_touches_30d",
        sales_short="sales_touches_30d",
        touches_long="marketing_touches_90d + sales_touches_90d",
    )
    gaps = {
        Gap.NO_SALES_FOLLOW_UP: "m_follow > 0 AND s_follow = 0",
        Gap.MISSING_ROLE: "any_missing = 1",
        Gap.SINGLE_THREADED: "engaged_contacts = 1",
        Gap.GONE_COLD: "cold_old > 0 AND cold_recent = 0",
        Gap.NO_SALES_OWNER: "sales_owner_id IS NULL",
        Gap.NO_MARKETING_OWNER: "marketing_owner_id IS NULL",
    }
    open_, won_ = OpportunityStatus.OPEN.value, OpportunityStatus.WON.value
    date_type = _typed(AccountCoverage._meta.get_field("stage_since"))
    zero = "CAST(0 AS DECIMAL)" if connection.vendor == "postgresql" else "0"

    outputs = list(
        zip(
            [
                "%s",
                *(f"s.{c}" for c in ROW_COLUMNS[1:7]),
                "s.required",
                "s.covered",
                "s.missing",
                *(f"s.{c}" for c in ROW_COLUMNS[10:21]),
                f"CASE WHEN b.stage = s.stage THEN b.stage_since ELSE {date_type} END",
                "COALESCE(b.first_stage, s.stage)",
                *(f"CASE WHEN {gaps[code]} THEN 1 ELSE 0 END = 1" for code in GAPS),
            ],
            ROW_COLUMNS,
            strict=True,
        )
    )
    # A contact engaged by an activity of its own account (a hashed subplan in PostgreSQL: one
    # hash of the window's pairs, probed by each contact, cheaper than a join and a DISTINCT).
    engaged = f"""(c.id, c.account_id) IN (
                SELECT contact_id, account_id FROM {table[Activity]}
                WHERE contact_id IS NOT NULL AND account_id IN (SELECT account_id FROM ids)
                  AND occurred_at > %s AND occurred_at <= %s
            ) OR (c.last_engaged_at > %s AND c.last_engaged_at <= %s)"""
    select = f"""
        WITH entries (target_id, account_id, tier, sales, marketing, row_number) AS (
            {entries_sql}
        ),
        ids (account_id) AS NOT MATERIALIZED ({ids_sql}),
        masks AS ({masks_sql}),
        touched AS (
            SELECT account_id,
                   {", ".join(f"{count(cond)} AS {name}" for name, (cond, _) in windows.items())}
            FROM {table[Activity]}
            WHERE account_id IN (SELECT account_id FROM ids)
              AND occurred_at > %s AND occurred_at <= %s
            GROUP BY account_id
        ),
        people AS (
            SELECT c.account_id, COUNT(*) AS contacts,
                   {count(engaged)} AS engaged
            FROM {table[Contact]} c
            WHERE c.account_id IN (SELECT account_id FROM ids)
            GROUP BY c.account_id
        ),
        deals AS (
            SELECT account_id,
                   {count(f"status = '{open_}'")} AS open_opportunities,
                   SUM(CASE WHEN status = '{open_}' THEN amount ELSE 0 END) AS pipeline,
                   {count(f"status = '{won_}'")} AS won,
                   SUM(CASE WHEN status = '{won_}' THEN amount ELSE 0 END) AS won_amount
            FROM {opportunity}
            WHERE account_id IN (SELECT account_id FROM ids)
            GROUP BY account_id
        ),
        roles AS ({roles_sql}),
        before AS (
            SELECT account_id, stage, stage_since, first_stage FROM {coverage}
            WHERE snapshot_id = %s
        ),
        counted AS (
            SELECT e.target_id, e.account_id, e.row_number - 1 AS position, e.tier,
                   e.sales AS sales_owner_id, e.marketing AS marketing_owner_id,
                   r.required, r.covered, r.missing, r.any_missing,
                   CASE WHEN COALESCE(p.contacts, 0) > 0 THEN r.with_contacts
                        ELSE r.without_contacts END AS coverage,
                   COALESCE(p.contacts, 0) AS contacts,
                   COALESCE(p.engaged, 0) AS engaged_contacts,
                   COALESCE(t.m_short, 0) AS marketing_touches_30d,
                   COALESCE(t.s_short, 0) AS sales_touches_30d,
                   COALESCE(t.m_long, 0) AS marketing_touches_90d,
                   COALESCE(t.s_long, 0) AS sales_touches_90d,
                   COALESCE(t.m_follow, 0) AS m_follow, COALESCE(t.s_follow, 0) AS s_follow,
                   COALESCE(t.cold_recent, 0) AS cold_recent,
                   COALESCE(t.cold_old, 0) AS cold_old,
                   COALESCE(d.open_opportunities, 0) AS open_opportunities,
                   COALESCE(d.pipeline, {zero}) AS open_pipeline,
                   COALESCE(d.won, 0) AS won,
                   COALESCE(d.won_amount, {zero}) AS won_amount
            FROM entries e
            LEFT JOIN people p ON p.account_id = e.account_id
            LEFT JOIN masks m ON m.account_id = e.account_id
            JOIN roles r ON r.tier = e.tier AND r.mask = (COALESCE(m.mask, 0) & {tier_mask})
            LEFT JOIN touched t ON t.account_id = e.account_id
            LEFT JOIN deals d ON d.account_id = e.account_id
        ),
        staged AS (SELECT counted.*, {stage} AS stage FROM counted)
        SELECT {", ".join(f"{expr} AS {q(column)}" for expr, column in outputs)}
        FROM staged s LEFT JOIN before b ON b.account_id = s.account_id
    """
    params = [
        *entries_params,
        *ids_params,
        *wanted,
        *wanted,
        *window_params,
        adapt(widest),
        adapt(w.as_of),
        adapt(w.engagement_from),
        adapt(w.as_of),
        adapt(w.engagement_from),
        adapt(w.as_of),
        *roles_params,
        previous.pk if previous is not None else None,
        w.engaged_min_contacts,
        snapshot.pk,
        connection.ops.adapt_datefield_value(taken_on),
    ]
    columns = ", ".join(q(column) for column in ROW_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(f"INSERT INTO {coverage} ({columns}) {select}", params)
            return cursor.rowcount
        rows = q("coverage_snapshot_rows")
        cursor.execute(f"CREATE TEMPORARY TABLE {rows} ON COMMIT DROP AS {select}", params)
        cursor.execute(f"INSERT INTO {coverage} ({columns}) SELECT {columns} FROM {rows}")
        total = cursor.rowcount
        cursor.execute(f"DROP TABLE {rows}")  # a second snapshot in this transaction
        return total


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
    """The metrics per owner of a side, by username (no owner last). Grouped by the owner's id
    alone and named after: grouping by names joined row by row cost four times as much."""
    field = f"{side}_owner"
    groups = list(rows.values(field).annotate(**_metric_columns()).order_by())
    people = {
        person["pk"]: person
        for person in get_user_model()
        .objects.filter(pk__in=[row[field] for row in groups if row[field] is not None])
        .values("pk", "username", "first_name", "last_name")
    }
    result = []
    for row in groups:
        owner = None
        person = people.get(row[field])
        if person is not None:  # (an owner deleted outside Django is no owner)
            name = f"{person['first_name']} {person['last_name']}".strip()
            owner = {
                "id": row[field],
                "username": person["username"],
                "name": name or person["username"],
            }
        result.append({"owner": owner, **_metrics(row)})
    return sorted(
        result,
        key=lambda group: (
            group["owner"] is None,
            (group["owner"] or {}).get("username", ""),
            (group["owner"] or {}).get("id", 0),
        ),
    )


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


Lengths = dict[str, dict[int, int]]  # per stage: stays of each length in days, counted


def _lengths_add(lengths: Lengths, rows, until: date) -> None:
    """Add stays grouped as (stage, stage_since, n) rows that last until `until`."""
    for row in rows:
        by_length = lengths.setdefault(row["stage"], {})
        days = (until - row["stage_since"]).days
        by_length[days] = by_length.get(days, 0) + row["n"]


def _ended_between(before: Snapshot, after: Snapshot) -> Lengths:
    """The stays `after` ends, `before` being the snapshot before it: an account whose stage
    changed ended its stay on `after`'s day (its next stay's stage_since); one that left the
    list ended it on `before`'s day, the last it was seen. Grouped by the database."""
    rows = AccountCoverage.objects.filter(snapshot=before)
    later = AccountCoverage.objects.filter(snapshot=after, account_id=OuterRef("account_id"))

    def grouped(queryset):
        return queryset.values("stage", "stage_since").annotate(n=Count("pk")).order_by()

    lengths: Lengths = {}
    _lengths_add(lengths, grouped(rows.filter(~Exists(later))), before.taken_on)
    _lengths_add(
        lengths,
        grouped(rows.filter(Exists(later.exclude(stage=OuterRef("stage"))))),
        after.taken_on,
    )
    return lengths


def _lengths_merge(into: Lengths, more: Lengths) -> Lengths:
    for stage, by_length in more.items():
        mine = into.setdefault(stage, {})
        for days, n in by_length.items():
            mine[days] = mine.get(days, 0) + n
    return into


def _ended_through(snapshot: Snapshot | None) -> Lengths:
    """The stays of the cycle ended by `snapshot` (done), as stored with it; for snapshots
    taken before they were stored, replayed once from the last one that has them."""
    chain = []
    while snapshot is not None and "stays_ended" not in (snapshot.aggregates or {}):
        chain.append(snapshot)
        snapshot = (
            _done(snapshot.cycle_id)
            .filter(taken_on__lt=snapshot.taken_on)
            .order_by("-taken_on", "-pk")
            .first()
        )
    lengths = _lengths_decode(snapshot.aggregates["stays_ended"]) if snapshot is not None else {}
    for before, after in zip([snapshot, *reversed(chain)], reversed(chain), strict=False):
        if before is not None:
            _lengths_merge(lengths, _ended_between(before, after))
    return lengths


def _lengths_encode(lengths: Lengths) -> dict:
    return {stage: sorted(by_length.items()) for stage, by_length in sorted(lengths.items())}


def _lengths_decode(stored: dict) -> Lengths:
    return {stage: {int(days): n for days, n in pairs} for stage, pairs in stored.items()}


def _lengths_median(by_length: dict[int, int]) -> float | None:
    """The median of the lengths (statistics.median's, the two middle ones' mean)."""
    total = sum(by_length.values())
    if not total:
        return None

    def nth(k: int) -> int:
        seen = 0
        for days in sorted(by_length):
            seen += by_length[days]
            if k < seen:
                return days
        raise AssertionError("unreachable")

    return round((nth((total - 1) // 2) + nth(total // 2)) / 2, 2)


def _stages(snapshot: Snapshot, rows, previous: Snapshot | None) -> tuple[dict, Lengths]:
    """Counts per stage, median days in each stage over the cycle's stays, and the share of
    accounts further along than in their first snapshot of the cycle; and the stays ended so
    far, stored with the snapshot so that the next one reads one snapshot back, not the
    cycle's every row.

    A stay is one (account, stage, stage_since): ended ones (docs/metrics.md) come from the
    previous snapshot's store and what this one ends; those still going last until today."""
    counts = dict.fromkeys(Stage.values, 0)
    moved = 0
    total = 0
    for row in rows.values("first_stage", "stage").annotate(n=Count("pk")).order_by():
        counts[row["stage"]] += row["n"]
        total += row["n"]
        if stage_rank(row["stage"]) > stage_rank(row["first_stage"]):
            moved += row["n"]

    ended: Lengths = {}
    if previous is not None:
        ended = _lengths_merge(_ended_through(previous), _ended_between(previous, snapshot))
    lengths = {stage: dict(by_length) for stage, by_length in ended.items()}
    going = rows.values("stage", "stage_since").annotate(n=Count("pk")).order_by()
    _lengths_add(lengths, going, snapshot.taken_on)
    return {
        "accounts": counts,
        "median_days": {stage: _lengths_median(lengths.get(stage, {})) for stage in Stage.values},
        "moved_on_share": _share(moved, total),
    }, ended


def _aggregates(snapshot: Snapshot, *, previous: Snapshot | None, first: Snapshot | None):
    rows = AccountCoverage.objects.filter(snapshot=snapshot)
    cycle_metrics = _metrics(rows.aggregate(**_metric_columns()))
    tiers = [
        {"tier": row["tier"], **_metrics(row)}
        for row in rows.values("tier").annotate(**_metric_columns()).order_by("tier")
    ]
    both_owners = rows.filter(gap_no_sales_owner=False, gap_no_marketing_owner=False).count()
    stages, ended = _stages(snapshot, rows, previous)
    return {
        "cycle": cycle_metrics,
        "tiers": tiers,
        "sales_owners": _owner_groups(rows, "sales"),
        "marketing_owners": _owner_groups(rows, "marketing"),
        "stages": stages,
        "trend": {
            "previous": _trend(cycle_metrics, previous),
            "first": _trend(cycle_metrics, first),
        },
        # Not shown: what the next snapshot's median days in each stage start from.
        "stays_ended": _lengths_encode(ended),
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
            if not quorum.reached(approvals=approvals[key], quorum=cycle.quorum(sign_off["side"])):
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


def _done(cycle: Cycle | int):
    return Snapshot.objects.filter(cycle=cycle, state=SnapshotState.DONE)


@contextlib.contextmanager
def _batch_transaction():
    """A transaction whose statements may use COVERAGE_SNAPSHOT_WORK_MEM and no JIT. The
    statement's row estimates are far too high (the list's accounts are a CTE), so PostgreSQL
    compiled it, which took 2 of its 4.7 s at 20,000 accounts; the aggregates read rows just
    written, which PostgreSQL has no statistics of yet, and sorted 40,000 of them on disk in
    the default work_mem."""
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('work_mem', %s, true), set_config('jit', 'off', true)",
                    [django_settings.COVERAGE_SNAPSHOT_WORK_MEM],
                )
        yield


def snapshots_abandoned_fail(*, cycle: Cycle) -> int:
    """Mark the cycle's abandoned snapshots failed (a worker killed or a command stopped
    mid-way leaves one "running"), deleting any rows they wrote. Returns how many."""
    abandoned = Snapshot.objects.filter(
        cycle=cycle, state=SnapshotState.RUNNING, taken_at__lt=stale_before()
    )
    ids = list(abandoned.values_list("pk", flat=True))
    if ids:
        AccountCoverage.objects.filter(snapshot_id__in=ids).delete()
        Snapshot.objects.filter(pk__in=ids, state=SnapshotState.RUNNING).update(
            state=SnapshotState.FAILED,
            message=(
                "Abandoned: still running "
                f"{django_settings.COVERAGE_SNAPSHOT_STALE_MINUTES} minutes after it started "
                "(its worker or command stopped)."
            ),
            finished_at=timezone.now(),
        )
    return len(ids)


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
    snapshots_abandoned_fail(cycle=cycle)
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
        with _batch_transaction():
            # One statement: its rows are all there or none (progress moves from none to
            # all; it takes seconds at 20,000 accounts, the aggregates after it less).
            total = _rows_insert(
                snapshot=snapshot,
                cycle=cycle,
                targets=targets,
                w=windows,
                taken_on=taken_on,
                previous=previous,
            )
        # The list may have changed since it was counted.
        Snapshot.objects.filter(pk=snapshot.pk).update(total=total, done=total)
        if progress is not None:
            progress(total, total)
        with _batch_transaction():
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
            forget_latest_key(cycle.pk)
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
