"""Reads of coverage: the effective definitions, the stored snapshots and their rows. Web
requests and the API read only what a snapshot stored; they never compute one."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from coverage.models import (
    METRIC_FIELDS,
    AccountCoverage,
    DefinitionsState,
    DefinitionsVersion,
    Gap,
    Snapshot,
    gap_field,
)
from coverage.models import SnapshotState as State


def definitions_effective() -> DefinitionsVersion:
    """The one effective definitions version (a migration seeds v1)."""
    return DefinitionsVersion.objects.get(state=DefinitionsState.EFFECTIVE)


def _done_newest_first(cycle_id: int) -> QuerySet[Snapshot]:
    return Snapshot.objects.filter(cycle_id=cycle_id, state=State.DONE).order_by("-taken_on", "-pk")


def snapshot_latest(*, cycle_id: int, aggregates: bool = True) -> Snapshot | None:
    """The cycle's latest finished snapshot, or None before the first. With `aggregates=False`,
    without its stored aggregates and alignment (with hundreds of owners, a hundred kilobytes of
    JSON, half the time of a dashboard that has them cached) but with `trend`, the part of them
    shown on each reading."""
    latest = _done_newest_first(cycle_id).select_related("definitions_version", "cycle")
    if not aggregates:
        latest = latest.defer("aggregates", "alignment").annotate(
            trend=KeyTransform("trend", "aggregates")
        )
    return latest.first()


# Which snapshot is a cycle's latest, kept in the cache for the pages that show a part of it
# (the nomination page's panel: a query a page less), when the cache is shared by every process
# (Redis: a snapshot is taken by a worker, and the web processes must hear of it). Forgotten
# when a snapshot of the cycle finishes, is saved or deleted (coverage.receivers); the time
# limit bounds a reader that read the database just before a snapshot finished and wrote the
# cache just after (a snapshot that reader names may be gone: the panel then reads again).
LATEST_SECONDS = 300


def _latest_cache_key(cycle_id: int) -> str:
    return f"coverage:latest-snapshot:{cycle_id}"


def snapshot_latest_key(*, cycle_id: int) -> tuple[int, str] | None:
    """(id, cache key) of the cycle's latest finished snapshot, read without the snapshot
    itself (for a page part cached per snapshot); None before the first."""
    shared = settings.CACHE_SHARED
    latest = cache.get(_latest_cache_key(cycle_id)) if shared else None
    if latest is None:
        found = _done_newest_first(cycle_id).values_list("pk", "finished_at").first()
        latest = (found[0], snapshot_cache_key(*found)) if found else ()
        if shared:
            cache.set(_latest_cache_key(cycle_id), latest, LATEST_SECONDS)
    return tuple(latest) or None


def forget_latest_key(cycle_id: int) -> None:
    """When the cycle's snapshots change: the next reader reads its latest again. Forgotten
    now (for a reader in this transaction) and once the change is committed (for the others,
    who may have read the database, and written the cache, in between)."""
    key = _latest_cache_key(cycle_id)
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key), robust=True)


def snapshot_cache_key(snapshot_id: int, finished_at) -> str:
    """The prefix of the cache keys of what is rendered from a finished snapshot. A snapshot
    never changes once taken; the key also holds its finish time, so a snapshot id reused (a
    test database) is not mistaken."""
    finished = finished_at.timestamp() if finished_at else 0
    return f"coverage:snapshot:{snapshot_id}:{finished}"


def snapshot_rows(
    *,
    snapshot: Snapshot,
    tier: int | None = None,
    sales_owner: int | None = None,
    marketing_owner: int | None = None,
    stage: str | None = None,
    gap: str | None = None,
) -> QuerySet[AccountCoverage]:
    """A snapshot's account rows, filtered in SQL, in their stored order (tier, account name,
    entry). Read a page of them with `snapshot_row_page`."""
    rows = AccountCoverage.objects.filter(snapshot=snapshot)
    if tier is not None:
        rows = rows.filter(tier=tier)
    if sales_owner is not None:
        rows = rows.filter(sales_owner_id=sales_owner)
    if marketing_owner is not None:
        rows = rows.filter(marketing_owner_id=marketing_owner)
    if stage is not None:
        rows = rows.filter(stage=stage)
    if gap is not None:
        if gap not in Gap.values:
            raise ValueError(gap)
        rows = rows.filter(**{gap_field(gap): True})
    return rows.order_by("position")


ROW_COLUMNS = (
    "account_id",
    "account__key",
    "account__name",
    "account__domain",
    "tier",
    "required_roles",
    "covered_roles",
    "missing_roles",
    *METRIC_FIELDS,
    *(gap_field(code) for code in Gap.values),
)


def snapshot_row_page(page: QuerySet[AccountCoverage]) -> QuerySet:
    """A page of rows as dicts of ROW_COLUMNS, in one query: the page's ids are picked from the
    rows alone (the (snapshot, position) index), and only those are joined to their account."""
    return (
        AccountCoverage.objects.filter(pk__in=page.values("pk"))
        .order_by("position")
        .values(*ROW_COLUMNS)
    )


def stale_before() -> datetime:
    """Snapshots still running that started before this were abandoned (their worker or
    command stopped): COVERAGE_SNAPSHOT_STALE_MINUTES ago."""
    return timezone.now() - timedelta(minutes=settings.COVERAGE_SNAPSHOT_STALE_MINUTES)
