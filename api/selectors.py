"""Reads of the API, each in a fixed number of queries whatever the number of rows."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone

from accounts_app.models import Account
from api.models import ApiToken, ServiceAccount
from workflow.models import (
    Comment,
    Cycle,
    CycleEvent,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    TargetAccount,
)


def accounts_list() -> QuerySet[Account]:
    return Account.objects.select_related("sales_owner", "marketing_owner").order_by("name", "pk")


def cycles_list() -> QuerySet[Cycle]:
    return Cycle.objects.prefetch_related("tiers").order_by("-starts_on", "pk")


def nominations_list() -> QuerySet[Nomination]:
    return Nomination.objects.select_related("account", "proposer").order_by("-created_at", "-pk")


def nomination_detail(pk: int) -> Nomination | None:
    return Nomination.objects.select_related("account", "proposer", "cycle").filter(pk=pk).first()


def with_current_sign_offs(nomination: Nomination) -> Nomination:
    """Attach the current round's sign-offs (for the side statuses), in one query."""
    nomination.current_sign_offs = list(
        SignOff.objects.filter(nomination=nomination, round=nomination.round).select_related(
            "person"
        )
    )
    return nomination


def decisions_of(nomination: Nomination) -> QuerySet[SignOff]:
    return nomination.sign_offs.select_related("person").order_by("created_at", "pk")


def comments_of(nomination: Nomination) -> QuerySet[Comment]:
    return (
        Comment.objects.filter(nomination=nomination)
        .select_related("author")
        .prefetch_related(Prefetch("mentions", queryset=_people()))
        .order_by("created_at", "pk")
    )


def _people():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.only("pk", "username")


def events_of(nomination: Nomination) -> QuerySet[NominationEvent]:
    return (
        NominationEvent.objects.filter(nomination=nomination)
        .select_related("actor")
        .order_by("created_at", "pk")
    )


def cycle_events_of(cycle: Cycle) -> QuerySet[CycleEvent]:
    return (
        CycleEvent.objects.filter(cycle=cycle).select_related("actor").order_by("created_at", "pk")
    )


def versions_of(cycle: Cycle) -> QuerySet[ListVersion]:
    return (
        ListVersion.objects.filter(cycle=cycle)
        .select_related("published_by")
        .defer("entries")
        .order_by("-number")
    )


def version_of(cycle: Cycle, number: int) -> ListVersion | None:
    return ListVersion.objects.filter(cycle=cycle, number=number).first()


def live_tokens() -> QuerySet[ApiToken]:
    """Tokens that still authenticate: not revoked (revoked ones are deleted), not expired."""
    return ApiToken.objects.filter(Q(expiry__isnull=True) | Q(expiry__gt=timezone.now()))


def service_accounts_list() -> QuerySet[ServiceAccount]:
    """Integration logins; each one's user has `live_tokens`, newest first."""
    return (
        ServiceAccount.objects.select_related("user", "created_by")
        .prefetch_related(
            Prefetch(
                "user__auth_token_set",
                queryset=live_tokens().order_by("-created", "-pk"),
                to_attr="live_tokens",
            )
        )
        .order_by("user__username")
    )


# --- The agreed list, as a CRM-side job polls it ---------------------------------------------


@dataclass(frozen=True)
class TargetListState:
    """What the ETag of a cycle's agreed list is made of. Entries are never deleted (a removal
    sets removed_at) and every change of an entry moves its updated_at, so the number of entries
    and the latest updated_at change whenever the list does. Account fields are part of each
    entry too: the latest change of any account stands in for them (it may change the ETag when
    an account not on this list changes, which costs a 200, never a stale 304)."""

    cycle_id: int
    entries: int
    entry_changed: datetime | None
    account_changed: datetime | None

    @property
    def last_changed(self) -> datetime | None:
        stamps = [s for s in (self.entry_changed, self.account_changed) if s is not None]
        return max(stamps) if stamps and self.entries else None

    def etag(self, params: list[tuple[str, list[str]]]) -> str:
        raw = "|".join(
            str(part)
            for part in (
                self.cycle_id,
                self.entries,
                self.entry_changed and self.entry_changed.isoformat(),
                self.account_changed and self.account_changed.isoformat(),
                sorted(params),
            )
        )
        return f'W/"{hashlib.sha256(raw.encode()).hexdigest()[:32]}"'

    def next_updated_since(self) -> datetime | None:
        last = self.last_changed
        if last is None:
            return None
        return last - timedelta(seconds=settings.API_UPDATED_SINCE_MARGIN_SECONDS)


def target_list_state(cycle_id: int) -> TargetListState | None:
    """One small query (one pass over the cycle's entries, one index lookup for the accounts);
    None when the cycle does not exist."""
    latest_account_change = Account.objects.order_by("-updated_at").values("updated_at")[:1]
    row = TargetAccount.objects.filter(cycle_id=cycle_id).aggregate(
        entries=Count("pk"),
        entry_changed=Max("updated_at"),
        # An uncorrelated subquery: the database reads it once (an InitPlan), not per entry.
        account_changed=Max(Subquery(latest_account_change)),
    )
    if not row["entries"] and not Cycle.objects.filter(pk=cycle_id).exists():
        return None
    return TargetListState(cycle_id=cycle_id, **row)


TARGET_ACCOUNT_COLUMNS = (
    "id",
    "tier",
    "added_at",
    "removed_at",
    "updated_at",
    "nomination_id",
    "last_nomination_id",
    "account_id",
    "account__key",
    "account__name",
    "account__domain",
    "account__industry",
    "account__employee_count",
    "account__country",
    "account__region",
    "account__hubspot_company_id",
    "account__salesforce_account_id",
    "account__updated_at",
    *(
        f"{owner}__{field}"
        for owner in ("sales_owner", "marketing_owner")
        for field in ("id", "username", "first_name", "last_name", "email")
    ),
)


def target_accounts(
    *,
    cycle_id: int,
    updated_since: datetime | None = None,
    tier: int | None = None,
    include_removed: bool = False,
) -> QuerySet[TargetAccount]:
    """The agreed list in a stable order: entries are never deleted, so paging by id neither
    skips nor repeats. Read pages of it with `target_account_rows`.

    With `updated_since`: every entry added, changed or removed after it, or whose account
    changed after it; an account removed and added again appears twice, in the order the
    changes happened."""
    entries = TargetAccount.objects.filter(cycle_id=cycle_id).order_by("pk")
    if updated_since is not None:
        entries = entries.filter(
            Q(updated_at__gt=updated_since) | Q(account__updated_at__gt=updated_since)
        )
    elif not include_removed:
        entries = entries.filter(removed_at__isnull=True)
    if tier is not None:
        entries = entries.filter(tier=tier)
    return entries


def target_account_rows(page: QuerySet[TargetAccount]) -> QuerySet:
    """A page of entries as dicts of TARGET_ACCOUNT_COLUMNS, in one query whatever its size.

    The page's ids are picked from the entries table alone, in a subquery, and only those
    entries are joined to their account and owners: joining before OFFSET would make the
    database join every entry before the page (each page of a 10,000-entry list would cost as
    much as the whole list).
    """
    return (
        TargetAccount.objects.filter(pk__in=page.values("pk"))
        .order_by("pk")
        .values(*TARGET_ACCOUNT_COLUMNS)
    )
