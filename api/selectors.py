"""Reads of the API, each in a fixed number of queries whatever the number of rows."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.db.models.functions import Greatest

from accounts_app.models import Account
from api.models import ServiceAccount
from workflow.models import (
    Comment,
    Cycle,
    ListVersion,
    Nomination,
    NominationEvent,
    SignOff,
    TargetAccount,
)


def accounts_list() -> QuerySet[Account]:
    return Account.objects.select_related("sales_owner", "marketing_owner").order_by("name", "pk")


def account_with_crm_id(field: str, value: str | None, *, exclude=None) -> Account | None:
    if not value:
        return None
    holders = Account.objects.filter(**{field: value})
    if exclude is not None:
        holders = holders.exclude(pk=exclude.pk)
    return holders.first()


def cycles_list() -> QuerySet[Cycle]:
    return Cycle.objects.prefetch_related("tiers").order_by("-starts_on", "pk")


def tier_usage(cycle_ids) -> dict[tuple[int, int], int]:
    """{(cycle id, tier): accounts on the list now} for the given cycles, in one query."""
    rows = (
        TargetAccount.objects.filter(cycle_id__in=list(cycle_ids), removed_at__isnull=True)
        .values_list("cycle_id", "tier")
        .annotate(n=Count("pk"))
    )
    return {(cycle_id, tier): n for cycle_id, tier, n in rows}


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


def versions_of(cycle: Cycle) -> QuerySet[ListVersion]:
    return (
        ListVersion.objects.filter(cycle=cycle)
        .select_related("published_by")
        .defer("entries")
        .order_by("-number")
    )


def version_of(cycle: Cycle, number: int) -> ListVersion | None:
    return ListVersion.objects.filter(cycle=cycle, number=number).first()


def service_accounts_list() -> QuerySet[ServiceAccount]:
    return ServiceAccount.objects.select_related("user", "user__auth_token", "created_by").order_by(
        "user__username"
    )


# --- The agreed list, as a CRM-side job polls it ---------------------------------------------


@dataclass(frozen=True)
class TargetListState:
    """What the ETag of a cycle's agreed list is made of: entries are never deleted (a removal
    sets removed_at), and every change of an entry or of its account moves a timestamp."""

    cycle_id: int
    entries: int
    entry_changed: datetime | None
    account_changed: datetime | None

    @property
    def last_changed(self) -> datetime | None:
        stamps = [s for s in (self.entry_changed, self.account_changed) if s is not None]
        return max(stamps) if stamps else None

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
    """One aggregate query; None when the cycle does not exist."""
    row = TargetAccount.objects.filter(cycle_id=cycle_id).aggregate(
        entries=Count("pk"),
        entry_changed=Max("updated_at"),
        account_changed=Max("account__updated_at"),
    )
    if not row["entries"] and not Cycle.objects.filter(pk=cycle_id).exists():
        return None
    return TargetListState(cycle_id=cycle_id, **row)


def target_accounts(
    *,
    cycle_id: int,
    updated_since: datetime | None = None,
    tier: int | None = None,
    include_removed: bool = False,
) -> QuerySet[TargetAccount]:
    """The agreed list in a stable order (entries are never deleted, so paging by id neither
    skips nor repeats). With `updated_since`: every entry added, changed or removed after it,
    or whose account changed after it; an account removed and added again appears twice, in
    the order the changes happened."""
    entries = (
        TargetAccount.objects.filter(cycle_id=cycle_id)
        .select_related("account", "sales_owner", "marketing_owner")
        .annotate(changed_at=Greatest("updated_at", "account__updated_at"))
        .order_by("pk")
    )
    if updated_since is not None:
        entries = entries.filter(
            Q(updated_at__gt=updated_since) | Q(account__updated_at__gt=updated_since)
        )
    elif not include_removed:
        entries = entries.filter(removed_at__isnull=True)
    if tier is not None:
        entries = entries.filter(tier=tier)
    return entries
