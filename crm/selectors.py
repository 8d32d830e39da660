"""Reads of the CRM sync: what Accord says about an account (the push payload), the outbox and
the sync runs as ops see them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Min, Q, QuerySet
from django.template.defaultfilters import pluralize

from accounts_app.models import Account
from crm.models import (
    LIVE_OUTBOX_STATES,
    OPEN_OUTBOX_STATES,
    CrmOwner,
    DeliveredPayload,
    OutboxEntry,
    OutboxState,
    SyncKind,
    SyncRun,
    SyncRunError,
    SyncState,
)
from workflow.models import CycleState, TargetAccount

# Which list an account's CRM record follows when it is on several: active cycles before
# planned ones, then the latest start. Closed cycles no longer make an account a target.
_CYCLE_RANK = {CycleState.ACTIVE: 0, CycleState.PLANNING: 1}


def current_targets(account_ids: Iterable[int]) -> dict[int, dict]:
    """The list entry each account's CRM record reflects (accounts on no open list are absent),
    as {account id: {"tier", "sales_owner_id", "marketing_owner_id", "cycle"}}."""
    chosen: dict[int, tuple] = {}
    rows = TargetAccount.objects.filter(
        account_id__in=list(account_ids),
        removed_at__isnull=True,
        cycle__state__in=list(_CYCLE_RANK),
    ).values_list(
        "pk",
        "account_id",
        "tier",
        "sales_owner_id",
        "marketing_owner_id",
        "cycle__name",
        "cycle__state",
        "cycle__starts_on",
    )
    for pk, account_id, tier, sales, marketing, cycle, state, starts_on in rows:
        rank = (_CYCLE_RANK[state], -starts_on.toordinal(), pk)
        best = chosen.get(account_id)
        if best is None or rank < best[0]:
            chosen[account_id] = (
                rank,
                {
                    "tier": tier,
                    "sales_owner_id": sales,
                    "marketing_owner_id": marketing,
                    "cycle": cycle,
                },
            )
    return {account_id: target for account_id, (_, target) in chosen.items()}


def push_payloads(account_ids: Iterable[int]) -> dict[int, dict]:
    """Accord's facts about each account, the same for every CRM (adapters render them):

    key, name, domain, is_target, tier, cycle, the owners' e-mails and, from the sales owner
    (else the marketing owner), the HubSpot owner id and the Salesforce user id. Also the CRM
    ids Accord knows (`hubspot_company_id`, `salesforce_account_id`). Three or four queries,
    read as plain values: a push builds 100–200 of these per request to the CRM.
    """
    from django.contrib.auth import get_user_model

    ids = list(account_ids)
    targets = current_targets(ids)
    people = {
        pk
        for t in targets.values()
        for pk in (t["sales_owner_id"], t["marketing_owner_id"])
        if pk is not None
    }
    owners: dict[int, dict] = {}
    emails: dict[int, str] = {}
    if people:
        owners = {
            user_id: {"hubspot_owner_id": hubspot, "salesforce_user_id": salesforce}
            for user_id, hubspot, salesforce in CrmOwner.objects.filter(
                user_id__in=people
            ).values_list("user_id", "hubspot_owner_id", "salesforce_user_id")
        }
        emails = dict(get_user_model().objects.filter(pk__in=people).values_list("pk", "email"))

    payloads = {}
    accounts = Account.objects.filter(pk__in=ids).values_list(
        "pk", "key", "name", "domain", "hubspot_company_id", "salesforce_account_id"
    )
    for pk, key, name, domain, hubspot_id, salesforce_id in accounts:
        target = targets.get(pk)
        sales = target["sales_owner_id"] if target else None
        marketing = target["marketing_owner_id"] if target else None
        payloads[pk] = {
            "key": str(key),
            "name": name,
            "domain": domain,
            "is_target": target is not None,
            "tier": target["tier"] if target else None,
            "cycle": target["cycle"] if target else None,
            "sales_owner_email": emails.get(sales, "") if sales else "",
            "marketing_owner_email": emails.get(marketing, "") if marketing else "",
            "hubspot_owner_id": _first(owners, (sales, marketing), "hubspot_owner_id"),
            "salesforce_owner_id": _first(owners, (sales, marketing), "salesforce_user_id"),
            "hubspot_company_id": hubspot_id,
            "salesforce_account_id": salesforce_id,
        }
    return payloads


def _first(owners: dict, people: tuple, field: str) -> str:
    for pk in people:
        owner = owners.get(pk)
        if owner is not None and owner[field]:
            return owner[field]
    return ""


def delivered_digests(account_ids: Iterable[int], backend: str) -> dict[int, str]:
    return dict(
        DeliveredPayload.objects.filter(
            account_id__in=list(account_ids), backend=backend
        ).values_list("account_id", "digest")
    )


def outbox_counts() -> dict[str, int]:
    """Entries per state, every state present (for the admin and the sync page)."""
    counts = dict(OutboxEntry.objects.values_list("state").annotate(n=Count("pk")))
    return {state.value: counts.get(state.value, 0) for state in OutboxState}


@dataclass(frozen=True)
class OutboxBacklog:
    pending: int  # waiting for delivery or being pushed
    dead_letters: int
    oldest_pending_at: datetime | None  # the latest change of the longest-waiting entry


def outbox_backlog() -> OutboxBacklog:
    """What the outbox has not delivered, in one query over the open entries (delivered ones,
    the bulk of the table, are not read): for /healthz and /metrics."""
    row = OutboxEntry.objects.filter(state__in=OPEN_OUTBOX_STATES).aggregate(
        pending=Count("pk", filter=Q(state__in=LIVE_OUTBOX_STATES)),
        dead_letters=Count("pk", filter=Q(state=OutboxState.FAILED)),
        oldest_pending_at=Min("enqueued_at", filter=Q(state__in=LIVE_OUTBOX_STATES)),
    )
    return OutboxBacklog(**row)


def outbox_dead_letters() -> QuerySet[OutboxEntry]:
    return OutboxEntry.objects.filter(state=OutboxState.FAILED).select_related("account")


def sync_runs(*, kind: str | None = None) -> QuerySet[SyncRun]:
    runs = SyncRun.objects.select_related("triggered_by", "cycle")
    return runs.filter(kind=kind) if kind else runs


def sync_run_errors(run: SyncRun) -> QuerySet[SyncRunError]:
    return run.errors.select_related("account", "outbox_entry")


def sync_run_records(run: SyncRun):
    """The records a push sent and the CRM took (the first CRM_RUN_RECORDS_KEPT of them)."""
    return run.records.select_related("account").order_by("pk")


def retryable_entries(run: SyncRun) -> QuerySet[OutboxEntry]:
    """The dead-letter entries a run left behind (what "retry failed records" retries)."""
    return OutboxEntry.objects.filter(
        Q(errors__run=run) | Q(last_run=run), state=OutboxState.FAILED
    ).distinct()


def where_the_run_stands(run: SyncRun, what: str = "") -> str:
    """What a button that asked for a run says: "Push #3 is queued" only while it is. Where
    tasks run in the web process (the embedded run) the run may already be running or finished
    by the time the request ends: then say so, with its outcome."""
    run.refresh_from_db()
    name = f"{run.get_kind_display()} #{run.pk}"
    if run.state == SyncState.QUEUED:
        return f"{name} is queued{': ' + what if what else '.'}"
    if run.state == SyncState.RUNNING:
        return f"{name} is running{': ' + what if what else '.'}"
    counts = (
        f"{run.sent} record{pluralize(run.sent)} "
        f"{'read' if run.kind == SyncKind.PULL else 'sent'}, {run.failed} failed"
    )
    if run.state == SyncState.FAILED:
        return f"{name} failed ({counts}): {run.message or 'see the run.'}"
    return f"{name} {run.get_state_display().lower()} ({counts})."
