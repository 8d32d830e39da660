"""The metric definitions, written once. docs/metrics.md says the same in words; each paragraph
there is what the code here and in coverage.services computes.

The numbers the definitions use (windows, thresholds) are their *settings*. They belong to a
numbered DefinitionsVersion that both sides agree on; every snapshot stores the version and a
copy of its settings, so a past number can be recomputed exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from core.errors import Invalid
from coverage.models import Gap, Stage

DEFAULTS: dict[str, int | list[int]] = {
    # A contact is engaged if it had an activity (either side), or its last_engaged_at, in
    # the last `engagement_window_days`.
    "engagement_window_days": 30,
    # Touches are counted over these windows (short, long), per side.
    "touch_windows_days": [30, 90],
    # A marketing touch needs a sales touch within this many days.
    "follow_up_days": 14,
    # "Engaged" stage: at least this many engaged contacts (or both sides touching).
    "engaged_stage_min_contacts": 2,
    # Gone cold: touches between these days ago (inclusive) and none more recent.
    "gone_cold_days": [31, 90],
}

# How the definitions page names each setting.
LABELS = {
    "engagement_window_days": "Engaged contact: an activity within (days)",
    "touch_windows_days": "Touch windows (days)",
    "follow_up_days": "Sales follow-up of a marketing touch within (days)",
    "engaged_stage_min_contacts": "Engaged stage: engaged contacts at least",
    "gone_cold_days": "Gone cold: touches between (days ago), none since",
}


def settings_rows(settings: dict) -> list[tuple[str, str]]:
    """(label, value) of each setting, in the order of DEFAULTS, for a page."""
    rows = []
    for key in DEFAULTS:
        value = settings.get(key)
        shown = " – ".join(map(str, value)) if isinstance(value, list) else str(value)
        rows.append((LABELS.get(key, key), shown))
    return rows


# Later is further along; the stage is the last one whose rule holds.
STAGE_ORDER: tuple[str, ...] = tuple(Stage.values)
FURTHER_THAN_AWARE: tuple[str, ...] = (Stage.ENGAGED, Stage.OPPORTUNITY, Stage.CUSTOMER)
GAPS: tuple[str, ...] = tuple(Gap.values)


def stage_rank(stage: str) -> int:
    return STAGE_ORDER.index(stage)


def _whole(settings: dict, key: str, low: int, high: int) -> int:
    value = settings.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise Invalid(f"{key} must be a whole number from {low} to {high}.", field=key)
    return value


def _pair(settings: dict, key: str, low: int, high: int) -> list[int]:
    value = settings.get(key)
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) for v in value)
    ):
        raise Invalid(f"{key} must be two whole numbers of days, e.g. [30, 90].", field=key)
    first, second = value
    if not low <= first < second <= high:
        raise Invalid(
            f"{key} must be two numbers of days from {low} to {high}, the first smaller.",
            field=key,
        )
    return [first, second]


def settings_validate(settings: dict) -> dict:
    """A complete, valid settings dict (the keys of DEFAULTS, nothing else), or Invalid."""
    if not isinstance(settings, dict):
        raise Invalid("The settings must be an object of the definitions' settings.")
    unknown = sorted(set(settings) - set(DEFAULTS))
    if unknown:
        raise Invalid(f"Unknown settings: {', '.join(unknown)}.", field=unknown[0])
    missing = sorted(set(DEFAULTS) - set(settings))
    if missing:
        raise Invalid(f"Missing settings: {', '.join(missing)}.", field=missing[0])
    cleaned = {
        "engagement_window_days": _whole(settings, "engagement_window_days", 1, 365),
        "touch_windows_days": _pair(settings, "touch_windows_days", 1, 730),
        "follow_up_days": _whole(settings, "follow_up_days", 1, 365),
        "engaged_stage_min_contacts": _whole(settings, "engaged_stage_min_contacts", 1, 1000),
        "gone_cold_days": _pair(settings, "gone_cold_days", 2, 730),
    }
    return cleaned


@dataclass(frozen=True)
class Windows:
    """The instants the definitions compare against, for one `as_of`. Each window is
    (start, as_of]: an activity exactly `days` ago is outside it."""

    as_of: datetime
    engagement_from: datetime
    short_from: datetime
    long_from: datetime
    follow_up_from: datetime
    cold_recent_from: datetime  # no touch after this…
    cold_from: datetime  # …and some touch after this
    engaged_min_contacts: int

    @classmethod
    def of(cls, settings: dict, as_of: datetime) -> Windows:
        short, long = settings["touch_windows_days"]
        cold_start, cold_end = settings["gone_cold_days"]
        return cls(
            as_of=as_of,
            engagement_from=as_of - timedelta(days=settings["engagement_window_days"]),
            short_from=as_of - timedelta(days=short),
            long_from=as_of - timedelta(days=long),
            follow_up_from=as_of - timedelta(days=settings["follow_up_days"]),
            # "31–90 days ago": touches 30 days ago or less are recent.
            cold_recent_from=as_of - timedelta(days=cold_start - 1),
            cold_from=as_of - timedelta(days=cold_end),
            engaged_min_contacts=settings["engaged_stage_min_contacts"],
        )


def coverage_of(required: list[str], held: set[str], contacts: int) -> tuple[list, list, float]:
    """(covered roles, missing roles, coverage 0–1) of one account."""
    if not required:
        return [], [], 1.0 if contacts else 0.0
    covered = [role for role in required if role in held]
    missing = [role for role in required if role not in held]
    return covered, missing, len(covered) / len(required)


def coverage_table(required: dict[int, list[str]], wanted: list[str]) -> list[tuple]:
    """coverage_of for every set of roles an account of each tier can hold, for the snapshot's
    query to join: (tier, mask, required, covered, missing, coverage with contacts, coverage
    without). `mask` has bit i set when the account holds `wanted[i]`, restricted to the tier's
    own required roles (the query ANDs an account's mask with the tier's); a tier requiring k
    roles has 2**k rows (at most 1,024 for the ten buying roles)."""
    bit = {role: 1 << index for index, role in enumerate(wanted)}
    table = []
    for tier, roles in sorted(required.items()):
        for subset in range(1 << len(roles)):
            held = {role for index, role in enumerate(roles) if subset >> index & 1}
            mask = sum(bit[role] for role in held)
            covered, missing, with_contacts = coverage_of(roles, held, 1)
            without = coverage_of(roles, held, 0)[2]
            table.append((tier, mask, roles, covered, missing, with_contacts, without))
    return table


def tier_mask(roles: list[str], wanted: list[str]) -> int:
    return sum(1 << wanted.index(role) for role in roles)


def stage_of(
    *,
    won: int,
    open_opportunities: int,
    engaged_contacts: int,
    marketing_short: int,
    sales_short: int,
    touches_long: int,
    engaged_min_contacts: int,
) -> str:
    """Evaluated from the last stage down: the first whose rule holds."""
    if won:
        return Stage.CUSTOMER
    if open_opportunities:
        return Stage.OPPORTUNITY
    if engaged_contacts >= engaged_min_contacts or (marketing_short and sales_short):
        return Stage.ENGAGED
    if touches_long:
        return Stage.AWARE
    return Stage.TARGETED


def stage_sql(
    *,
    won: str,
    open_opportunities: str,
    engaged_contacts: str,
    marketing_short: str,
    sales_short: str,
    touches_long: str,
) -> str:
    """stage_of as an SQL expression over the given column expressions, for the snapshot's
    query; its one parameter is engaged_min_contacts. tests/coverage/test_definitions.py
    checks the two agree."""
    return (
        f"CASE WHEN {won} > 0 THEN '{Stage.CUSTOMER}' "
        f"WHEN {open_opportunities} > 0 THEN '{Stage.OPPORTUNITY}' "
        f"WHEN {engaged_contacts} >= %s OR ({marketing_short} > 0 AND {sales_short} > 0) "
        f"THEN '{Stage.ENGAGED}' "
        f"WHEN {touches_long} > 0 THEN '{Stage.AWARE}' "
        f"ELSE '{Stage.TARGETED}' END"
    )
