"""Every write of the CRM sync: recording target-account changes, pushing the outbox, sync runs,
retries, CRM owner ids. Tasks, commands and the admin call these."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts_app.models import CRM_ID_FIELDS, Account
from core.errors import Conflict, Invalid
from core.roles import require_ops
from crm import outbox, selectors
from crm.adapters import (
    Adapter,
    ConfigurationError,
    CrmError,
    Deferred,
    PushRecord,
    RecordResult,
    TransientError,
    backend_name,
    get_adapter,
)
from crm.adapters.base import TransportStats
from crm.models import (
    CrmOwner,
    DeliveredPayload,
    OutboxChange,
    OutboxEntry,
    SyncKind,
    SyncRun,
    SyncRunError,
    SyncRunRecord,
    SyncState,
    SyncTrigger,
)

logger = logging.getLogger(__name__)

# Where each backend keeps the CRM's id of an account.


# --- recording changes (called inside the workflow's and accounts' transactions) ---------------


def target_change_record(*, target, nomination) -> int:
    """A target account was added, moved to another tier or removed by an approved nomination:
    queue its CRM record. Call inside the approval's transaction."""
    from workflow.models import NominationKind

    change = {
        NominationKind.ADD: OutboxChange.ADDED,
        NominationKind.CHANGE_TIER: OutboxChange.TIER_CHANGED,
        NominationKind.REMOVE: OutboxChange.REMOVED,
    }[nomination.kind]
    return outbox.record(account_id=target.account_id, change=change, cycle_id=target.cycle_id)


def account_changed_record(*, account: Account) -> int:
    """An account was edited. If it is on an open list, its list entries take its owners and
    its CRM record is queued (name and domain go to the CRM too; an edit the CRM does not see
    costs no request, the payload being unchanged). Call inside the transaction that saved the
    account. Returns how many list entries took new owners."""
    return accounts_changed_record(accounts=[account])


def accounts_changed_record(*, accounts) -> int:
    """account_changed_record for many accounts at once (the CSV import): one query finds
    which of them are on an open list; only those are written."""
    from workflow.models import CycleState, TargetAccount

    by_id = {account.pk: account for account in accounts}
    entries = list(
        TargetAccount.objects.select_for_update()
        .filter(account_id__in=by_id, removed_at__isnull=True)
        .exclude(cycle__state=CycleState.CLOSED)
        .order_by("account_id", "tier", "pk")
    )
    if not entries:
        return 0
    now = timezone.now()
    stale, per_account = [], {}
    for entry in entries:
        account = by_id[entry.account_id]
        owners = (account.sales_owner_id, account.marketing_owner_id)
        per_account.setdefault(entry.account_id, [[], []])[1].append(entry)
        if (entry.sales_owner_id, entry.marketing_owner_id) != owners:
            entry.sales_owner_id, entry.marketing_owner_id = owners
            entry.updated_at = now
            stale.append(entry)
            per_account[entry.account_id][0].append(entry)
    if stale:
        TargetAccount.objects.bulk_update(
            stale, ["sales_owner_id", "marketing_owner_id", "updated_at"]
        )
    for account_id, (account_stale, account_entries) in per_account.items():
        outbox.record(
            account_id=account_id,
            change=OutboxChange.OWNERS_CHANGED if account_stale else OutboxChange.ACCOUNT_CHANGED,
            cycle_id=(account_stale or account_entries)[0].cycle_id,
        )
    return len(stale)


# --- pushing -----------------------------------------------------------------------------------


def digest(properties: dict) -> str:
    return hashlib.sha256(
        json.dumps(properties, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


@dataclass
class ChunkOutcome:
    done: int = 0
    sent: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    retry_later: int = 0
    lost: int = 0  # entries whose lease ran out before they were settled
    stop: str = ""  # why the run must stop (the CRM deferred us or keeps failing)
    state: str = ""  # the run's state when it stops for that reason
    errors: list = field(default_factory=list)
    sent_records: list = field(default_factory=list)  # SyncRunRecord rows, not saved yet


def sync_run_create(
    *,
    kind: str = SyncKind.PUSH,
    trigger: str,
    by=None,
    cycle=None,
    total: int = 0,
    state: str = SyncState.QUEUED,
    backend: str | None = None,
) -> SyncRun:
    now = timezone.now()
    return SyncRun.objects.create(
        kind=kind,
        backend=backend or backend_name(),
        state=state,
        trigger=trigger,
        triggered_by=by,
        cycle=cycle,
        total=total,
        created_at=now,
        updated_at=now,
        started_at=now if state == SyncState.RUNNING else None,
    )


def _run_started(run: SyncRun, *, total: int | None = None) -> None:
    now = timezone.now()
    fields = {"state": SyncState.RUNNING, "started_at": now, "updated_at": now}
    if total is not None:
        fields["total"] = max(total, run.done)
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)


def request_counts(stats: TransportStats) -> dict[str, int]:
    """The transport's counts of a run's requests, as the run stores them."""
    return {
        "requests": stats.requests,
        "rate_limited": stats.rate_limited,
        "server_errors": stats.server_errors,
        "network_errors": stats.network_errors,
    }


def _run_progress(run: SyncRun, outcome: ChunkOutcome, stats: TransportStats) -> None:
    """Count a chunk on the run: one UPDATE (other processes may count on the same run), and
    the same sums on this instance for the progress bar."""
    counts = ("done", "sent", "created", "updated", "unchanged", "failed")
    requests = request_counts(stats)
    SyncRun.objects.filter(pk=run.pk).update(
        total=Greatest(F("total"), F("done") + outcome.done),
        **{name: F(name) + getattr(outcome, name) for name in counts},
        **requests,
        updated_at=timezone.now(),
    )
    from django.conf import settings

    # The records the CRM took, while the run keeps fewer than CRM_RUN_RECORDS_KEPT: every
    # one taken so far was kept in order, so created + updated before this chunk is how many.
    room = settings.CRM_RUN_RECORDS_KEPT - (run.created + run.updated)
    if room > 0 and outcome.sent_records:
        SyncRunRecord.objects.bulk_create(outcome.sent_records[:room], batch_size=500)
    for name in counts:
        setattr(run, name, getattr(run, name) + getattr(outcome, name))
    run.total = max(run.total, run.done)
    for name, value in requests.items():
        setattr(run, name, value)
    if outcome.errors:
        SyncRunError.objects.bulk_create(outcome.errors, batch_size=500)


def _run_finished(
    run: SyncRun,
    *,
    state: str,
    message: str = "",
    detail: dict | None = None,
    stats: TransportStats | None = None,
):
    now = timezone.now()
    run.refresh_from_db()
    if state == SyncState.SUCCEEDED and run.failed:
        state = SyncState.PARTIAL
    fields = {
        "state": state,
        "finished_at": now,
        "updated_at": now,
        "message": message[:5000],
        "detail": {**run.detail, **(detail or {})},
        **(request_counts(stats) if stats is not None else {}),
    }
    SyncRun.objects.filter(pk=run.pk).update(**fields)
    for name, value in fields.items():
        setattr(run, name, value)


def _push_chunk(
    *,
    adapter: Adapter,
    backend: str,
    token,
    entries: list[outbox.Claimed],
    run: SyncRun,
    force: bool,
) -> ChunkOutcome:
    """Push one claimed chunk and settle every entry of it."""
    outcome = ChunkOutcome(done=len(entries))
    if backend == "none":
        # Sync is off: nothing is sent, nothing is waiting.
        outcome.unchanged = outbox.settle_delivered(
            token, [e.pk for e in entries], backend=backend, run_id=run.pk
        )
        return outcome
    account_ids = [e.account_id for e in entries]
    payloads = selectors.push_payloads(account_ids)
    known = selectors.delivered_digests(account_ids, backend) if adapter.keeps_digests else {}
    id_field = CRM_ID_FIELDS.get(backend)

    unchanged: list[int] = []
    records: list[PushRecord] = []
    entry_of: dict[str, outbox.Claimed] = {}
    digest_of: dict[str, str] = {}
    for entry in entries:
        payload = payloads[entry.account_id]
        record = PushRecord(
            key=payload["key"],
            account_id=entry.account_id,
            payload=payload,
            crm_id=payload.get(id_field, "") if id_field else "",
            properties=adapter.render(payload),
        )
        digest_of[record.key] = digest(record.properties)
        if not force and known.get(entry.account_id) == digest_of[record.key]:
            unchanged.append(entry.pk)
            continue
        records.append(record)
        entry_of[record.key] = entry
    outcome.unchanged = len(unchanged)
    outbox.settle_delivered(token, unchanged, backend=backend, run_id=run.pk)
    if not records:
        return outcome

    send_ids = [entry_of[r.key].pk for r in records]
    from django.conf import settings

    # (Threads of one run share the adapter: the deadline is the latest batch's, close enough;
    # the lease is each thread's own.)
    limit = time.monotonic() + settings.CRM_BATCH_MAX_SECONDS
    adapter.set_deadline(limit)
    adapter.set_lease(outbox.Lease(token, send_ids, renew_until=limit))
    try:
        results = adapter.push(records)
    except outbox.LeaseLost as lost:
        # Too slow: another worker pushes these entries (or will); nothing more is sent,
        # settled or recorded here. Those still held (a partial takeover) are given back.
        outbox.release(token, send_ids)
        logger.warning("CRM push run %s stopped a batch: %s", run.pk, lost)
        outcome.done -= len(send_ids)
        outcome.lost = len(send_ids)
        return _too_slow(outcome)
    except Deferred as deferred:
        outbox.settle_deferred(
            token, send_ids, until=deferred.retry_at, message=deferred.message, run_id=run.pk
        )
        outcome.retry_later = len(send_ids)
        outcome.stop, outcome.state = deferred.message, SyncState.PARTIAL
        return outcome
    except (TransientError, ConfigurationError, CrmError) as error:
        counts = outbox.settle_retry(token, send_ids, message=error.message, run_id=run.pk)
        outcome.retry_later, outcome.failed = counts["retry"], counts["dead"]
        outcome.stop, outcome.state = error.message, SyncState.FAILED
        return outcome
    except BaseException as error:
        # A bug or a time limit: the entries go back with one attempt counted, then it is raised.
        outbox.settle_retry(
            token, send_ids, message=f"{type(error).__name__}: {error}", run_id=run.pk
        )
        raise
    finally:
        adapter.set_lease(None)

    outcome.sent = len(records)
    with transaction.atomic():  # one commit for what the CRM answered
        # Only what this worker still holds is settled and recorded: an entry whose lease ran
        # out during the request may be another worker's now, with a newer payload.
        held = outbox.lock_held(token, send_ids)
        kept = [
            (record, result)
            for record, result in zip(records, results, strict=True)
            if entry_of[record.key].pk in held
        ]
        outcome.lost = len(records) - len(kept)
        outcome.done -= outcome.lost
        # Keep the CRM's ids first: a clash (the id is linked to another account) fails the
        # record.
        clashes = _store_crm_ids(
            id_field,
            [
                (record.account_id, result.crm_id)
                for record, result in kept
                if id_field
                and result.ok
                and result.crm_id
                and result.crm_id != record.payload.get(id_field)
            ],
        )
        delivered: list[int] = []
        failed: dict[int, str] = {}
        new_digests: list[DeliveredPayload] = []
        now = timezone.now()
        change_of = dict(OutboxEntry.objects.filter(pk__in=send_ids).values_list("pk", "change"))
        for record, result in kept:
            entry = entry_of[record.key]
            if result.ok and record.account_id in clashes:
                result = RecordResult(
                    key=record.key, ok=False, message=clashes[record.account_id], response=None
                )
            if result.ok:
                delivered.append(entry.pk)
                outcome.created += int(result.created)
                outcome.updated += int(not result.created)
                outcome.sent_records.append(
                    SyncRunRecord(
                        run=run,
                        account_id=record.account_id,
                        object_key=record.key,
                        crm_id=result.crm_id or record.crm_id,
                        change=change_of.get(entry.pk, ""),
                        created=result.created,
                        sent_at=now,
                    )
                )
                if adapter.keeps_digests:
                    new_digests.append(
                        DeliveredPayload(
                            account_id=record.account_id,
                            backend=backend,
                            digest=digest_of[record.key],
                            delivered_at=now,
                        )
                    )
            else:
                failed[entry.pk] = result.message
                outcome.errors.append(
                    SyncRunError(
                        run=run,
                        object_type="company" if backend == "hubspot" else "account",
                        object_key=record.key,
                        account_id=record.account_id,
                        outbox_entry_id=entry.pk,
                        message=result.message[:5000],
                        crm_response=_jsonable(result.response),
                    )
                )
        outcome.failed += len(failed)
        if new_digests:
            DeliveredPayload.objects.bulk_create(
                new_digests,
                update_conflicts=True,
                unique_fields=["account", "backend"],
                update_fields=["digest", "delivered_at"],
            )
        outbox.settle_delivered(token, delivered, backend=backend, run_id=run.pk)
        outbox.settle_failed(token, failed, backend=backend, run_id=run.pk)
    if outcome.lost:
        logger.warning(
            "CRM push run %s: the lease on %d entries ran out during the request; another "
            "worker settles them.",
            run.pk,
            outcome.lost,
        )
        return _too_slow(outcome)
    return outcome


def _too_slow(outcome: ChunkOutcome) -> ChunkOutcome:
    """A worker that lost its lease is too slow (stalled, overloaded): its run stops, and the
    entries go to other workers (those given back are queued again; the others are taken
    over when their lease has run out)."""
    outcome.stop = (
        f"Stopped: the lease on {outcome.lost} records ran out before this worker had settled "
        "them (it was too slow); another run delivers them."
    )
    outcome.state = SyncState.PARTIAL
    return outcome


def _store_crm_ids(id_field, new_ids: list[tuple[int, str]]) -> dict[int, str]:
    """Keep the CRM's ids on the accounts: one statement for the lot. Should one of them be
    held by another account already (unique), each is saved alone; returns the clashes as
    {account id: message}."""
    if not id_field or not new_ids:
        return {}
    try:
        with transaction.atomic():
            _update_column(Account, id_field, new_ids)
        return {}
    except IntegrityError:
        pass
    clashes = {}
    for pk, crm_id in new_ids:
        try:
            with transaction.atomic():
                Account.objects.filter(pk=pk).update(**{id_field: crm_id})
        except IntegrityError:
            holder = Account.objects.filter(**{id_field: crm_id}).first()
            clashes[pk] = (
                f"The CRM record {crm_id} is already linked to {holder} in Accord; unlink one "
                "of them (the account's CRM id) and retry."
            )
    return clashes


def _update_column(model, field_name: str, values: list[tuple[int, str]]) -> None:
    """`WITH v AS (VALUES …) UPDATE … SET column = v.value FROM v WHERE id = v.id`: one
    statement for many rows (PostgreSQL; SQLite 3.33+). Django's bulk_update builds a CASE
    per row, which costs ~1 ms of Python a row: too slow for a push that keeps the CRM's
    pace."""
    from django.db import connection

    table = connection.ops.quote_name(model._meta.db_table)
    column = connection.ops.quote_name(model._meta.get_field(field_name).column)
    pk = connection.ops.quote_name(model._meta.pk.column)
    rows = ", ".join(["(%s, %s)"] * len(values))
    params = [item for pair in values for item in (int(pair[0]), str(pair[1]))]
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH v(id, value) AS (VALUES {rows}) "
            f"UPDATE {table} SET {column} = v.value FROM v WHERE {table}.{pk} = v.id",
            params,
        )


def _jsonable(value):
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


class _Drain:
    """The claim → push → settle loop of one run, shared by its threads."""

    def __init__(self, *, adapter, backend, ids, sweep, force, run, trigger, by, progress):
        self.adapter, self.backend = adapter, backend
        self.ids, self.sweep, self.force = ids, sweep, force
        self.run, self.trigger, self.by, self.progress = run, trigger, by, progress
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.stop, self.stop_state = "", ""
        self.deadline: float | None = None
        self.errors: list[BaseException] = []
        self.last_claimed = 0
        self.lost = 0  # entries let go because their lease ran out
        # Entries are claimed, read and settled several batches at a time: a few statements
        # per 500 records instead of per 100 (the adapter still sends 100 a request).
        from django.conf import settings

        self.claim_size = adapter.batch_size * max(1, settings.CRM_PUSH_BATCHES_PER_CLAIM)

    def _run_for(self) -> SyncRun:
        with self.lock:
            if self.run is None:
                self.run = sync_run_create(
                    trigger=self.trigger, by=self.by, state=SyncState.RUNNING
                )
            return self.run

    def step(self) -> bool:
        """One chunk; False when there is nothing left or the run must stop."""
        if self.halt.is_set():
            return False
        if self.deadline is not None and time.monotonic() > self.deadline:
            with self.lock:
                self.stop_state = self.stop_state or "budget"
            return False
        token, entries = outbox.claim(limit=self.claim_size, ids=self.ids, sweep=self.sweep)
        if not entries:
            return False
        self.last_claimed = len(entries)
        if self.run is None and self.backend == "none":
            # Sync is off: settled as delivered, and no run recorded.
            outbox.settle_delivered(token, [e.pk for e in entries], backend="none", run_id=None)
            return True
        run = self._run_for()
        outcome = _push_chunk(
            adapter=self.adapter,
            backend=self.backend,
            token=token,
            entries=entries,
            run=run,
            force=self.force,
        )
        with self.lock:
            self.lost += outcome.lost
            _run_progress(run, outcome, self.adapter.stats)
            if self.progress is not None:
                self.progress(run)
            if outcome.stop:
                self.stop, self.stop_state = outcome.stop, outcome.state
                self.halt.set()
                return False
        return True

    def helper(self) -> None:
        """A helper thread: its own database connection, closed when it is done."""
        from django.db import connection

        try:
            while self.step():
                pass
        except BaseException as error:
            self.errors.append(error)
            self.halt.set()
        finally:
            connection.close()


def outbox_push(
    *,
    trigger: str,
    ids: list[int] | None = None,
    sweep: bool = False,
    run: SyncRun | None = None,
    by=None,
    force: bool = False,
    time_budget: float | None = None,
    progress: Callable[[SyncRun], None] | None = None,
    adapter: Adapter | None = None,
    concurrency: int = 1,
) -> SyncRun | None:
    """Push due outbox entries to the CRM. Returns the run (None when there was nothing to do
    and no run was given).

    1. Claim a chunk of claimable entries (only `ids` when given; the sweeper's share when
       `sweep`) under a lease, as many as the CRM takes in one request.
    2. Build each account's payload; an account whose payload equals what was last delivered
       to this CRM is settled without any request (unless `force`).
    3. Write the others; store the CRM's ids and the delivered digests; settle each entry
       delivered, failed (with the CRM's message) or for a later retry; count it on the run.
    4. Stop when nothing is left, when the CRM defers us (daily limit) or keeps failing, or
       when `time_budget` seconds have passed (the entries left stay pending for the next run).

    With `concurrency` > 1 and a first chunk that was full, that many threads drain the outbox
    together (each claims its own chunks; the CRM's bucket paces them all), so the database
    work of one chunk overlaps the request of another and the push keeps the CRM's pace.
    """
    backend = backend_name()
    started = time.monotonic()
    if run is not None:
        _run_started(run)
    try:
        adapter = adapter or get_adapter(backend)
    except ConfigurationError as error:
        if run is not None:
            _run_finished(run, state=SyncState.FAILED, message=error.message)
        raise
    drain = _Drain(
        adapter=adapter,
        backend=backend,
        ids=ids,
        sweep=sweep,
        force=force,
        run=run,
        trigger=trigger,
        by=by,
        progress=progress,
    )
    if time_budget is not None:
        drain.deadline = started + time_budget
    try:
        id_field = CRM_ID_FIELDS.get(backend)
        if id_field:
            adapter.plan(
                records_without_crm_id=outbox.count_claimable(
                    ids=ids, sweep=sweep, **{f"account__{id_field}": ""}
                )
            )
        helpers: list[threading.Thread] = []
        while drain.step():
            full = drain.last_claimed >= drain.claim_size
            if concurrency > 1 and full and not helpers and drain.run is not None:
                helpers = [
                    threading.Thread(target=drain.helper, name=f"crm-push-{n}", daemon=True)
                    for n in range(concurrency - 1)
                ]
                for thread in helpers:
                    thread.start()
        for thread in helpers:
            thread.join()
        if drain.errors:
            raise drain.errors[0]
    except BaseException as error:
        drain.halt.set()
        if drain.run is not None:
            _run_finished(
                drain.run,
                state=SyncState.FAILED,
                message=f"{type(error).__name__}: {error}",
                stats=adapter.stats,
            )
        raise
    finally:
        adapter.close()
    run = drain.run
    if run is None:
        return None
    stats = adapter.stats
    detail = {
        "write_requests": stats.writes,
        "retries": stats.retries,
        "rate_limited": stats.rate_limited,
        "server_errors": stats.server_errors,
        "network_errors": stats.network_errors,
        "waited_seconds": round(stats.waited_seconds, 2),
        "seconds": round(time.monotonic() - started, 2),
    }
    if drain.lost:
        detail["lease_lost"] = drain.lost
    if drain.stop:
        _run_finished(run, state=drain.stop_state, message=drain.stop, detail=detail, stats=stats)
    else:
        if drain.stop_state == "budget":
            detail["more_to_push"] = True
        _run_finished(run, state=SyncState.SUCCEEDED, detail=detail, stats=stats)
    return run


def cycle_push(
    *,
    cycle,
    by=None,
    trigger: str = SyncTrigger.COMMAND,
    force: bool = False,
    progress: Callable[[SyncRun], None] | None = None,
    run: SyncRun | None = None,
    concurrency: int | None = None,
) -> SyncRun:
    """Push a cycle's whole list (removals too): every account is queued, then the outbox is
    pushed in this process. Accounts whose CRM record is already up to date cost no request."""
    queued = outbox.record_cycle(cycle_id=cycle.pk)
    total = outbox.count_claimable()
    if run is None:
        run = sync_run_create(trigger=trigger, by=by, cycle=cycle, total=max(total, queued))
    else:
        SyncRun.objects.filter(pk=run.pk).update(total=max(total, queued))
        run.total = max(total, queued)
    result = outbox_push(
        trigger=trigger,
        run=run,
        by=by,
        force=force,
        progress=progress,
        concurrency=push_concurrency(concurrency),
    )
    return result or run


def push_concurrency(value: int | None = None) -> int:
    """Threads for a big push: `value`, else CRM_PUSH_CONCURRENCY."""
    from django.conf import settings

    return max(1, value if value is not None else settings.CRM_PUSH_CONCURRENCY)


def sync_run_request_push(*, by, cycle=None) -> SyncRun:
    """Ops ask for a push (admin, sync page, API): a queued run that a worker starts.
    Without a cycle it pushes whatever is due in the outbox."""
    require_ops(by, "start a CRM push")
    from crm import tasks

    if (
        cycle is not None
        and SyncRun.objects.filter(
            kind=SyncKind.PUSH, state__in=[SyncState.QUEUED, SyncState.RUNNING], cycle=cycle
        ).exists()
    ):
        raise Conflict(f"A push of {cycle.name} is already queued or running.")
    with transaction.atomic():
        run = sync_run_create(trigger=SyncTrigger.ADMIN, by=by, cycle=cycle, state=SyncState.QUEUED)
        transaction.on_commit(lambda: _queue(tasks.run_push, run.pk))
    return run


def _queue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception as error:  # broker down: the run stays queued and the sweeper starts it
        logger.warning("Could not queue %s%s: %s", task.name, args, error)


def run_queued_push(*, run: SyncRun) -> SyncRun:
    """Carry out a queued push run (the worker's side of sync_run_request_push)."""
    if run.state != SyncState.QUEUED:
        return run
    claimed = SyncRun.objects.filter(pk=run.pk, state=SyncState.QUEUED).update(
        state=SyncState.RUNNING, started_at=timezone.now(), updated_at=timezone.now()
    )
    if not claimed:
        return run
    run.refresh_from_db()
    if run.cycle is not None:
        return cycle_push(cycle=run.cycle, by=run.triggered_by, trigger=run.trigger, run=run)
    run.total = max(run.total, outbox.count_claimable())
    SyncRun.objects.filter(pk=run.pk).update(total=run.total)
    return (
        outbox_push(
            trigger=run.trigger,
            run=run,
            by=run.triggered_by,
            concurrency=push_concurrency(),
        )
        or run
    )


def sync_runs_start_queued(*, older_than_seconds: int = 60) -> int:
    """Push runs ops asked for whose task never came (the broker was down): run them now.
    Returns how many were started."""
    limit = timezone.now() - timedelta(seconds=older_than_seconds)
    started = 0
    for run in SyncRun.objects.filter(
        kind=SyncKind.PUSH, state=SyncState.QUEUED, created_at__lt=limit
    ).select_related("cycle", "triggered_by"):
        run_queued_push(run=run)
        started += 1
    return started


def sync_runs_expire_stale() -> int:
    """Runs whose worker died (no progress for longer than a lease) are marked failed; their
    entries are taken over by the sweeper when the lease runs out. Returns how many."""
    from django.conf import settings

    now = timezone.now()
    limit = now - timedelta(seconds=settings.CRM_OUTBOX_LEASE_SECONDS)
    return SyncRun.objects.filter(
        kind=SyncKind.PUSH, state=SyncState.RUNNING, updated_at__lt=limit
    ).update(
        state=SyncState.FAILED,
        finished_at=now,
        updated_at=now,
        message="The worker stopped without finishing (no progress for longer than the lease); "
        "its records were pushed again by a later run.",
    )


# --- retries -----------------------------------------------------------------------------------


def outbox_retry(*, entries, by) -> int:
    """Ops retry dead letters: pending again with their attempts forgotten, pushed after
    commit (outbox.revive queues them). Returns how many were revived."""
    require_ops(by, "retry CRM deliveries")
    ids = [e.pk if isinstance(e, OutboxEntry) else int(e) for e in entries]
    with transaction.atomic():
        return outbox.revive(ids)


def outbox_push_now(*, entries, by) -> int:
    """Ops push pending entries now instead of at the end of their back-off (the CRM is back
    after an outage). Returns how many were waiting."""
    require_ops(by, "retry CRM deliveries")
    ids = [e.pk if isinstance(e, OutboxEntry) else int(e) for e in entries]
    with transaction.atomic():
        return outbox.hurry(ids)


def sync_run_retry(*, run: SyncRun, by) -> int:
    """Retry the records a run could not deliver (those still in the dead letter)."""
    require_ops(by, "retry CRM deliveries")
    if run.kind != SyncKind.PUSH:
        raise Invalid("Only push runs can be retried here; start a new pull instead.")
    entries = list(selectors.retryable_entries(run).values_list("pk", flat=True))
    if not entries:
        raise Conflict("Nothing to retry: every record of this run was delivered since.")
    return outbox_retry(entries=entries, by=by)


# --- people ------------------------------------------------------------------------------------


def crm_owner_set(
    *, user, by, hubspot_owner_id: str | None = None, salesforce_user_id: str | None = None
) -> CrmOwner:
    """Set a person's CRM ids (ops). Their target accounts are queued so that the CRM record
    shows the owner."""
    require_ops(by, "set CRM owner ids")
    with transaction.atomic():
        owner, _ = CrmOwner.objects.select_for_update().get_or_create(user=user)
        if hubspot_owner_id is not None:
            owner.hubspot_owner_id = hubspot_owner_id.strip()
        if salesforce_user_id is not None:
            owner.salesforce_user_id = salesforce_user_id.strip()
        try:
            with transaction.atomic():
                owner.save()
        except IntegrityError:
            raise Conflict("Another person already has this CRM owner id.") from None
        crm_owner_queue_targets(user=user)
    return owner


def crm_owner_queue_targets(*, user) -> int:
    """Queue the CRM records of the accounts this person owns on open lists."""
    from django.db.models import Q

    from workflow.models import CycleState, TargetAccount

    accounts = set(
        TargetAccount.objects.filter(
            Q(sales_owner=user) | Q(marketing_owner=user), removed_at__isnull=True
        )
        .exclude(cycle__state=CycleState.CLOSED)
        .values_list("account_id", flat=True)
    )
    for account_id in sorted(accounts):
        outbox.record(account_id=account_id, change=OutboxChange.OWNERS_CHANGED)
    return len(accounts)
