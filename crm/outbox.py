"""The outbox: recording target-account changes, and claiming and settling them for a push.

Recording happens inside the transaction that changes the list, so the change and its outbox
entry commit together or not at all. After commit a Celery task is queued with the entry ids; if
that fails (Redis down), the error is logged and the sweeper delivers the entry later.

Claiming is safe with any number of workers: on PostgreSQL candidates are read with
`SELECT … FOR UPDATE SKIP LOCKED`, and on every database the claim is a conditional UPDATE that
only takes entries still claimable, stamping them with a fresh `claim_token` and a lease
(`claimed_until`). Taking over an expired lease counts an attempt, so an entry whose push kills
its worker every time ends in the dead letter.

The lease fences the worker (`Lease`): before each request it sends, the worker renews its lease
(or checks it, once its batch is past its limits) in one guarded UPDATE, and stops
(`LeaseLost`) when any entry is no longer its own. Settling an entry is an UPDATE guarded by the
token and the lease, so a worker whose lease ran out (and whose entries another worker may
have taken over) changes nothing. An entry changed again while in flight (its `version` moved
past `claimed_version`) goes back to pending instead of being marked delivered, so the newer
state is pushed too. Every entry sent back to pending is queued again after commit.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Min,
    PositiveIntegerField,
    Q,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from crm.models import OPEN_OUTBOX_STATES, OutboxChange, OutboxEntry, OutboxState

logger = logging.getLogger(__name__)


# --- recording -------------------------------------------------------------------------------


def _coalesce(qs, *, change: str, cycle_id: int | None, now) -> int:
    """Fold a change into open entries: newer version, a dead letter pending again."""
    return qs.filter(state__in=OPEN_OUTBOX_STATES).update(
        version=F("version") + 1,
        change=change,
        cycle_id=cycle_id,
        enqueued_at=now,
        state=Case(
            When(state=OutboxState.FAILED, then=Value(OutboxState.PENDING)),
            default=F("state"),
            output_field=CharField(),
        ),
        attempts=Case(
            When(state=OutboxState.FAILED, then=Value(0)),
            default=F("attempts"),
            output_field=PositiveIntegerField(),
        ),
        next_attempt_at=Case(
            When(state=OutboxState.FAILED, then=Value(now)),
            default=F("next_attempt_at"),
            output_field=DateTimeField(),
        ),
    )


def record(*, account_id: int, change: str, cycle_id: int | None = None) -> int:
    """Record that an account's CRM record must change; returns the outbox entry's id.

    Call it inside the transaction that made the change. The push is queued after commit.
    """
    now = timezone.now()
    entry_id = None
    for _ in range(5):
        if _coalesce(
            OutboxEntry.objects.filter(account_id=account_id),
            change=change,
            cycle_id=cycle_id,
            now=now,
        ):
            entry_id = (
                OutboxEntry.objects.filter(account_id=account_id, state__in=OPEN_OUTBOX_STATES)
                .values_list("pk", flat=True)
                .first()
            )
            if entry_id is not None:
                break
            continue
        try:
            with transaction.atomic():
                entry_id = OutboxEntry.objects.create(
                    account_id=account_id,
                    change=change,
                    cycle_id=cycle_id,
                    enqueued_at=now,
                    next_attempt_at=now,
                    created_at=now,
                ).pk
            break
        except IntegrityError:
            # Another transaction opened an entry for this account a moment ago: fold into it.
            continue
    if entry_id is None:
        raise RuntimeError(f"Could not record the CRM change of account {account_id}.")
    transaction.on_commit(lambda: queue_push([entry_id]))
    return entry_id


def record_cycle(*, cycle_id: int, change: str = OutboxChange.RESYNC) -> int:
    """Queue every account that is or was on a cycle's list (removals too), in bulk: open
    entries take the change, the other accounts get a new entry, in two statements whatever
    the size of the list. Returns how many accounts were queued. The caller pushes (no task
    is queued)."""
    from workflow.models import TargetAccount

    now = timezone.now()
    accounts = TargetAccount.objects.filter(cycle_id=cycle_id).values("account_id")
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    targets = connection.ops.quote_name(TargetAccount._meta.db_table)
    with transaction.atomic():
        coalesced = _coalesce(
            OutboxEntry.objects.filter(account_id__in=accounts),
            change=change,
            cycle_id=cycle_id,
            now=now,
        )
        stamp = _db_value("enqueued_at", now)
        with connection.cursor() as cursor:
            # ON CONFLICT DO NOTHING: an account with an open entry (the partial unique index)
            # already carries the change.
            cursor.execute(
                f"INSERT INTO {table} (account_id, cycle_id, change, state, version, attempts, "
                "last_error, next_attempt_at, enqueued_at, created_at, backend) "
                f"SELECT DISTINCT t.account_id, %s, %s, %s, 1, 0, '', %s, %s, %s, '' "
                f"FROM {targets} t WHERE t.cycle_id = %s ON CONFLICT DO NOTHING",
                [cycle_id, change, OutboxState.PENDING, stamp, stamp, stamp, cycle_id],
            )
            inserted = cursor.rowcount
    return coalesced + inserted


def queue_push(entry_ids: list[int], *, at=None) -> None:
    """After commit: queue the push task (to run at `at` when given). Never raises: the change
    is committed and the sweeper delivers it if the task cannot be queued (Redis down) or
    fails in-process."""
    from crm import tasks

    try:
        if at is None:
            tasks.push_outbox.delay(entry_ids)
        else:
            tasks.push_outbox.apply_async((entry_ids,), eta=at)
    except Exception as error:  # kombu OperationalError, redis errors, an in-process failure
        logger.warning(
            "Could not push CRM outbox entries %s now (%s: %s); the sweeper will deliver them.",
            entry_ids,
            type(error).__name__,
            error,
            exc_info=not _is_broker_error(error),
        )


def _is_broker_error(error: Exception) -> bool:
    from kombu.exceptions import OperationalError

    return isinstance(error, OperationalError | ConnectionError | OSError)


def _queue_again(ids, *, at=None) -> None:
    """Entries sent back to pending are pushed again after commit (at `at`, when they are due
    later), not only when the sweeper next passes."""
    ids = [int(i) for i in ids]
    if at is None:
        transaction.on_commit(lambda: queue_push(ids))
    else:
        transaction.on_commit(lambda: queue_push(ids, at=at))


# --- claiming ----------------------------------------------------------------------------------


def _due(now, sweep: bool) -> Q:
    due = Q(state=OutboxState.PENDING, next_attempt_at__lte=now)
    if sweep:
        age = timedelta(seconds=settings.CRM_OUTBOX_SWEEP_AFTER_SECONDS)
        due &= Q(enqueued_at__lte=now - age) | Q(attempts__gt=0)
    return due


def _expired(now) -> Q:
    return Q(state=OutboxState.IN_FLIGHT, claimed_until__lt=now)


def claimable(*, now=None, sweep: bool = False) -> Q:
    """Entries a pusher may take: pending and due, or in flight with an expired lease.

    The sweeper (`sweep=True`) leaves fresh changes to their after-commit push: it takes a
    pending entry only once its change is CRM_OUTBOX_SWEEP_AFTER_SECONDS old, or when it is
    a retry.
    """
    now = now or timezone.now()
    return _due(now, sweep) | _expired(now)


def _db_value(field: str, value):
    return OutboxEntry._meta.get_field(field).get_db_prep_value(value, connection)


@dataclass(frozen=True)
class Claimed:
    pk: int
    account_id: int


def claim(
    *, limit: int, ids: list[int] | None = None, sweep: bool = False
) -> tuple[uuid.UUID, list[Claimed]]:
    """Take up to `limit` claimable entries under a new lease; returns (token, entries).

    Expired leases first (a dead worker's entries), then pending entries by due time. Each is
    one statement, `UPDATE … WHERE id IN (SELECT … LIMIT n [FOR UPDATE SKIP LOCKED])
    RETURNING id, account_id`, whose inner read walks its own index: a claim stays cheap with
    50,000 entries waiting and never takes an entry another worker holds. (SQLite has no row
    locks; it lets one writer in at a time, which makes the statement just as exclusive.)
    """
    now = timezone.now()
    token = uuid.uuid4()
    lease = now + timedelta(seconds=settings.CRM_OUTBOX_LEASE_SECONDS)
    claimed: list[Claimed] = []
    _bury_abandoned(now, ids)
    for condition, order, takeover in (
        (_expired(now), "claimed_until", True),
        (_due(now, sweep), "next_attempt_at", False),
    ):
        if len(claimed) >= limit:
            break
        candidates = OutboxEntry.objects.filter(condition).order_by(order)
        if ids is not None:
            candidates = candidates.filter(pk__in=ids)
        with transaction.atomic():
            if connection.features.has_select_for_update_skip_locked:
                candidates = candidates.select_for_update(skip_locked=True)
            inner, params = candidates.values("pk")[: limit - len(claimed)].query.sql_with_params()
            table = connection.ops.quote_name(OutboxEntry._meta.db_table)
            # Taking over an expired lease is an attempt: its worker died or was too slow.
            attempt = ", attempts = attempts + 1, last_error = %s" if takeover else ""
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET state = %s, claim_token = %s, claimed_until = %s, "
                    f"claimed_version = version{attempt} WHERE id IN ({inner}) "
                    "RETURNING id, account_id",
                    [
                        OutboxState.IN_FLIGHT,
                        _db_value("claim_token", token),
                        _db_value("claimed_until", lease),
                        *([ABANDONED] if takeover else []),
                        *params,
                    ],
                )
                claimed += [Claimed(pk, account_id) for pk, account_id in cursor.fetchall()]
    claimed.sort(key=lambda c: c.pk)
    return token, claimed


ABANDONED = (
    "The worker pushing it stopped before settling it (its lease ran out): it died, was killed "
    "or was too slow."
)


def _bury_abandoned(now, ids: list[int] | None) -> int:
    """Expired leases on their last attempt go to the dead letter instead of being taken over:
    an entry whose push kills its worker every time must not take every worker down with it."""
    last = OutboxEntry.objects.filter(
        _expired(now), attempts__gte=settings.CRM_OUTBOX_MAX_ATTEMPTS - 1
    )
    if ids is not None:
        last = last.filter(pk__in=ids)
    return last.update(
        state=OutboxState.FAILED,
        attempts=F("attempts") + 1,
        last_error=Concat(
            Value("Gave up after "),
            Cast(F("attempts") + 1, CharField()),
            Value(
                " attempts: each time, the worker pushing it stopped before settling it (its "
                "lease ran out). Something in this record may be what stops the worker."
            ),
            output_field=TextField(),
        ),
        **_RELEASE,
    )


def count_claimable(*, ids: list[int] | None = None, sweep: bool = False, **filters) -> int:
    qs = OutboxEntry.objects.filter(claimable(sweep=sweep), **filters)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.count()


# --- the lease and settling ---------------------------------------------------------------------


class LeaseLost(Exception):
    """The entries a worker is pushing are no longer its own: the lease ran out (another worker
    may have taken them over). It must send nothing more for them, and settle nothing."""


def _mine(token: uuid.UUID, ids, now=None):
    """Entries still held under `token`: claimed with it, and the lease not run out."""
    return OutboxEntry.objects.filter(
        claim_token=token, pk__in=list(ids), claimed_until__gte=now or timezone.now()
    )


class Lease:
    """A worker's hold on the entries of one batch, renewed or checked before each request
    (crm.adapters.base.Transport calls `hold()`).

    While the batch is within its limits (`renew_until`, a time.monotonic(): the batch's
    CRM_BATCH_MAX_SECONDS) each hold extends the lease to a full CRM_OUTBOX_LEASE_SECONDS;
    past them the lease is only checked, so a batch stuck in retries lets go in time.
    """

    def __init__(self, token: uuid.UUID, ids, *, renew_until: float):
        self.token = token
        self.ids = [int(i) for i in ids]
        self.renew_until = renew_until

    def hold(self) -> float:
        """One guarded statement; returns the seconds left on the lease, or raises
        LeaseLost when any of the entries is no longer held."""
        now = timezone.now()
        mine = _mine(self.token, self.ids, now)
        if time.monotonic() < self.renew_until:
            until = now + timedelta(seconds=settings.CRM_OUTBOX_LEASE_SECONDS)
            held = mine.update(claimed_until=until)
        else:
            found = mine.aggregate(held=Count("pk"), until=Min("claimed_until"))
            held, until = found["held"], found["until"]
        if held < len(self.ids):
            raise LeaseLost(
                f"The lease on {len(self.ids) - held} of {len(self.ids)} outbox entries ran out; "
                "another worker pushes them."
            )
        return (until - now).total_seconds()


def lock_held(token, ids) -> set[int]:
    """Inside the transaction that settles a batch: those of `ids` still held, locked until
    commit so that no worker takes them over while what the CRM answered is written."""
    return set(_mine(token, ids).select_for_update().values_list("pk", flat=True))


_RELEASE = {"claim_token": None, "claimed_until": None, "claimed_version": None}


def settle_delivered(token, ids, *, backend: str, run_id: int | None) -> int:
    """Delivered, unless changed again in the meantime: then pending again, due now and
    queued again (the newer state still has to go). Two statements, in that order, so that
    nothing held is left in flight; returns how many entries were settled."""
    if not ids:
        return 0
    now = timezone.now()
    delivered = (
        _mine(token, ids, now)
        .filter(version=F("claimed_version"))
        .update(
            state=OutboxState.DELIVERED,
            delivered_at=now,
            last_error="",
            backend=backend,
            last_run_id=run_id,
            **_RELEASE,
        )
    )
    if delivered == len(ids):
        return delivered
    again = _mine(token, ids, now).update(
        state=OutboxState.PENDING,
        next_attempt_at=now,
        backend=backend,
        last_run_id=run_id,
        **_RELEASE,
    )
    if again:
        _queue_again(ids)
    return delivered + again


def settle_failed(token, errors: dict[int, str], *, backend: str, run_id: int | None) -> None:
    """Refused by the CRM (per record): to the dead letter with the CRM's message, unless the
    entry changed meanwhile, in which case the new state gets its own chance (queued again)."""
    if not errors:
        return
    now = timezone.now()
    if (
        _mine(token, errors, now)
        .exclude(version=F("claimed_version"))
        .update(
            state=OutboxState.PENDING,
            next_attempt_at=now,
            attempts=F("attempts") + 1,
            last_run_id=run_id,
            **_RELEASE,
        )
    ):
        _queue_again(errors)
    for entry_id, message in errors.items():
        _mine(token, [entry_id], now).update(
            state=OutboxState.FAILED,
            attempts=F("attempts") + 1,
            last_error=message[:5000],
            backend=backend,
            last_run_id=run_id,
            **_RELEASE,
        )


def retry_delay(attempts: int) -> timedelta:
    """Doubling from CRM_OUTBOX_RETRY_BASE_SECONDS up to CRM_OUTBOX_RETRY_MAX_SECONDS, with
    jitter so that entries failed together do not come back together."""
    base = settings.CRM_OUTBOX_RETRY_BASE_SECONDS
    ceiling = min(settings.CRM_OUTBOX_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))


def settle_retry(token, ids, *, message: str, run_id: int | None) -> dict[str, int]:
    """A failure that may pass (timeouts, 5xx, rate limits past every retry): one more
    attempt counted; pending again after a growing delay (and queued for then), or to the
    dead letter after CRM_OUTBOX_MAX_ATTEMPTS. Returns {"retry": n, "dead": n}."""
    if not ids:
        return {"retry": 0, "dead": 0}
    now = timezone.now()
    limit = settings.CRM_OUTBOX_MAX_ATTEMPTS
    counts = {"retry": 0, "dead": 0}
    by_attempts = defaultdict(list)
    for entry_id, attempts in _mine(token, ids).values_list("pk", "attempts"):
        by_attempts[attempts + 1].append(entry_id)
    for attempts, group in by_attempts.items():
        if attempts >= limit:
            counts["dead"] += _mine(token, group).update(
                state=OutboxState.FAILED,
                attempts=attempts,
                last_error=f"Gave up after {attempts} attempts. Last error: {message}"[:5000],
                last_run_id=run_id,
                **_RELEASE,
            )
        else:
            due = now + retry_delay(attempts)
            retried = _mine(token, group).update(
                state=OutboxState.PENDING,
                attempts=attempts,
                last_error=message[:5000],
                next_attempt_at=due,
                last_run_id=run_id,
                **_RELEASE,
            )
            if retried:
                _queue_again(group, at=due)
            counts["retry"] += retried
    return counts


def settle_deferred(token, ids, *, until, message: str, run_id: int | None) -> int:
    """The CRM's allowance is used up: pending until `until` (and queued for then), no
    attempt counted."""
    if not ids:
        return 0
    deferred = _mine(token, ids).update(
        state=OutboxState.PENDING,
        next_attempt_at=until,
        last_error=message[:5000],
        last_run_id=run_id,
        **_RELEASE,
    )
    if deferred:
        _queue_again(ids, at=until)
    return deferred


def release(token, ids) -> int:
    """Give entries back untouched (a run letting go of them): pending, due now, queued
    again."""
    if not ids:
        return 0
    released = _mine(token, ids).update(
        state=OutboxState.PENDING, next_attempt_at=timezone.now(), **_RELEASE
    )
    if released:
        _queue_again(ids)
    return released


def hurry(ids) -> int:
    """Pending entries waiting out their back-off are due now and pushed after commit (ops,
    once the CRM is back); their attempts are kept, so a CRM still down sends them on towards
    the dead letter as before. Returns how many."""
    ids = list(ids)
    now = timezone.now()
    hurried = OutboxEntry.objects.filter(
        pk__in=ids, state=OutboxState.PENDING, next_attempt_at__gt=now
    ).update(next_attempt_at=now)
    if hurried:
        _queue_again(ids)
    return hurried


def revive(ids) -> int:
    """Dead letters back to pending, their attempts forgotten, pushed after commit (ops'
    retry)."""
    ids = list(ids)
    now = timezone.now()
    revived = OutboxEntry.objects.filter(pk__in=ids, state=OutboxState.FAILED).update(
        state=OutboxState.PENDING, attempts=0, next_attempt_at=now, enqueued_at=now
    )
    if revived:
        _queue_again(ids)
    return revived
