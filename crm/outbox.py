"""The outbox: recording target-account changes, and claiming and settling them for a push.

Recording happens inside the transaction that changes the list, so the change and its outbox
entry commit together or not at all. After commit a Celery task is queued with the entry ids; if
that fails (Redis down), the error is logged and the sweeper delivers the entry later.

Claiming is safe with any number of workers: on PostgreSQL candidates are read with
`SELECT … FOR UPDATE SKIP LOCKED`, and on every database the claim is a conditional UPDATE that
only takes entries still claimable, stamping them with a fresh `claim_token` and a lease
(`claimed_until`). Settling an entry is an UPDATE guarded by that token, so a worker whose lease
ran out (and whose entries another worker took over) changes nothing. An entry changed again
while in flight (its `version` moved past `claimed_version`) goes back to pending instead of
being marked delivered, so the newer state is pushed too.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Case,
    CharField,
    DateTimeField,
    F,
    PositiveIntegerField,
    Q,
    TextField,
    Value,
    When,
)
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


def queue_push(entry_ids: list[int]) -> None:
    """After commit: queue the push task. Never raises: the change is committed and the
    sweeper delivers it if the task cannot be queued (Redis down) or fails in-process."""
    from crm import tasks

    try:
        tasks.push_outbox.delay(entry_ids)
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
    for condition, order in (
        (_expired(now), "claimed_until"),
        (_due(now, sweep), "next_attempt_at"),
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
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET state = %s, claim_token = %s, claimed_until = %s, "
                    f"claimed_version = version WHERE id IN ({inner}) RETURNING id, account_id",
                    [
                        OutboxState.IN_FLIGHT,
                        _db_value("claim_token", token),
                        _db_value("claimed_until", lease),
                        *params,
                    ],
                )
                claimed += [Claimed(pk, account_id) for pk, account_id in cursor.fetchall()]
    claimed.sort(key=lambda c: c.pk)
    return token, claimed


def count_claimable(*, ids: list[int] | None = None, sweep: bool = False, **filters) -> int:
    qs = OutboxEntry.objects.filter(claimable(sweep=sweep), **filters)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.count()


# --- settling ----------------------------------------------------------------------------------


def _mine(token: uuid.UUID, ids):
    return OutboxEntry.objects.filter(claim_token=token, pk__in=list(ids))


_RELEASE = {"claim_token": None, "claimed_until": None, "claimed_version": None}


def settle_delivered(token, ids, *, backend: str, run_id: int | None) -> int:
    """Delivered, unless changed again in the meantime: then pending again, due now (the
    newer state still has to go). One statement; returns how many entries were settled."""
    if not ids:
        return 0
    now = timezone.now()
    unchanged = Q(version=F("claimed_version"))
    return _mine(token, ids).update(
        state=Case(
            When(unchanged, then=Value(OutboxState.DELIVERED)),
            default=Value(OutboxState.PENDING),
            output_field=CharField(),
        ),
        delivered_at=Case(
            When(unchanged, then=Value(now)),
            default=F("delivered_at"),
            output_field=DateTimeField(),
        ),
        next_attempt_at=Case(
            When(unchanged, then=F("next_attempt_at")),
            default=Value(now),
            output_field=DateTimeField(),
        ),
        last_error=Case(
            When(unchanged, then=Value("")), default=F("last_error"), output_field=TextField()
        ),
        backend=backend,
        last_run_id=run_id,
        **_RELEASE,
    )


def settle_failed(token, errors: dict[int, str], *, backend: str, run_id: int | None) -> None:
    """Refused by the CRM (per record): to the dead letter with the CRM's message, unless the
    entry changed meanwhile, in which case the new state gets its own chance."""
    if not errors:
        return
    now = timezone.now()
    _mine(token, errors).exclude(version=F("claimed_version")).update(
        state=OutboxState.PENDING,
        next_attempt_at=now,
        attempts=F("attempts") + 1,
        last_run_id=run_id,
        **_RELEASE,
    )
    for entry_id, message in errors.items():
        _mine(token, [entry_id]).update(
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
    attempt counted; pending again after a growing delay, or to the dead letter after
    CRM_OUTBOX_MAX_ATTEMPTS. Returns {"retry": n, "dead": n}."""
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
            counts["retry"] += _mine(token, group).update(
                state=OutboxState.PENDING,
                attempts=attempts,
                last_error=message[:5000],
                next_attempt_at=now + retry_delay(attempts),
                last_run_id=run_id,
                **_RELEASE,
            )
    return counts


def settle_deferred(token, ids, *, until, message: str, run_id: int | None) -> int:
    """The CRM's allowance is used up: pending until `until`, no attempt counted."""
    if not ids:
        return 0
    return _mine(token, ids).update(
        state=OutboxState.PENDING,
        next_attempt_at=until,
        last_error=message[:5000],
        last_run_id=run_id,
        **_RELEASE,
    )


def release(token, ids) -> int:
    """Give entries back untouched (a run stopping early): pending, due now."""
    if not ids:
        return 0
    return _mine(token, ids).update(
        state=OutboxState.PENDING, next_attempt_at=timezone.now(), **_RELEASE
    )


def revive(ids) -> int:
    """Dead letters back to pending, their attempts forgotten (ops' retry)."""
    now = timezone.now()
    return OutboxEntry.objects.filter(pk__in=list(ids), state=OutboxState.FAILED).update(
        state=OutboxState.PENDING, attempts=0, next_attempt_at=now, enqueued_at=now
    )
