"""Every write of the pull: pull runs, their cursors, requests from ops, pulls by id for the
webhook. Tasks, the crm_pull command, the sync page and the API call these.

A pull reads each object type of the CRM in turn (companies first, so that contacts, deals and
activities find their accounts), a page at a time; each page is written, and the cursor moved
past it, in one transaction. So a pull stopped anywhere (a time budget, a killed worker, the
CRM's daily limit) resumes after the last page written, and memory does not grow with the
number of records.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts_app.models import CRM_ID_FIELDS, Account, Activity, Contact, Opportunity
from core import hooks
from core.errors import Conflict
from core.roles import require_ops
from crm.adapters import ConfigurationError, CrmError, Deferred, backend_name, get_adapter
from crm.adapters.base import TransportStats
from crm.models import PullCursor, SyncKind, SyncRun, SyncRunError, SyncState, SyncTrigger
from crm.pull import store
from crm.pull.store import Outcome

logger = logging.getLogger(__name__)

PULL_BACKENDS = ("hubspot", "salesforce")
ACTIVE = (SyncState.QUEUED, SyncState.RUNNING)


class LeaseLost(Exception):
    """Another pull took this object type over (our lease had run out)."""


def reader_for(backend: str):
    """A reader over the backend's adapter: its HTTP client, rate limits and retries."""
    adapter = get_adapter(backend)
    if backend == "hubspot":
        from crm.pull.hubspot import HubSpotReader

        return HubSpotReader(adapter)
    from crm.pull.salesforce import SalesforceReader

    return SalesforceReader(adapter, multi_currency=settings.SALESFORCE_MULTI_CURRENCY)


def pull_backend() -> str | None:
    """The CRM a pull reads from, or None when CRM_BACKEND has none (webhook, none)."""
    name = backend_name()
    return name if name in PULL_BACKENDS else None


def pull_backend_or_none() -> str | None:
    """As pull_backend, and None when CRM_BACKEND is not even valid (for pages)."""
    try:
        return pull_backend()
    except ConfigurationError:
        return None


# --- runs ------------------------------------------------------------------------------------


def _services():
    # The push side's run helpers (one way to create, start and finish a run).
    from crm import services

    return services


def _progress(run: SyncRun, out: Outcome, stats: TransportStats, detail: dict) -> None:
    SyncRun.objects.filter(pk=run.pk).update(
        total=Greatest(F("total"), F("done") + out.read),
        done=F("done") + out.read,
        sent=F("sent") + out.read,
        created=F("created") + out.created,
        updated=F("updated") + out.updated,
        unchanged=F("unchanged") + out.unchanged,
        failed=F("failed") + out.failed,
        **_services().request_counts(stats),
        updated_at=timezone.now(),
        detail=detail,
    )
    if out.errors:
        SyncRunError.objects.bulk_create(out.errors, batch_size=500)
    run.refresh_from_db()


# --- cursors ---------------------------------------------------------------------------------


def _lease_until():
    return timezone.now() + timedelta(seconds=settings.CRM_PULL_LEASE_SECONDS)


def _claim(backend: str, object_type: str, token: uuid.UUID, run: SyncRun, *, full: bool):
    """The object type's cursor under our lease, or None while another pull holds it."""
    try:
        with transaction.atomic():
            cursor, _ = PullCursor.objects.get_or_create(backend=backend, object_type=object_type)
    except IntegrityError:
        cursor = PullCursor.objects.get(backend=backend, object_type=object_type)
    now = timezone.now()
    claimed = (
        PullCursor.objects.filter(pk=cursor.pk)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claim_token=token, claimed_until=_lease_until(), last_run=run, updated_at=now)
    )
    if not claimed:
        return None
    cursor.refresh_from_db()
    if full:
        cursor.since, cursor.last_id = None, ""
    if not cursor.last_id:
        cursor.pass_started_at = now  # a new pass
    PullCursor.objects.filter(pk=cursor.pk, claim_token=token).update(
        since=cursor.since, last_id=cursor.last_id, pass_started_at=cursor.pass_started_at
    )
    return cursor


def _advance(cursor: PullCursor, token: uuid.UUID, last_id: str) -> None:
    moved = PullCursor.objects.filter(pk=cursor.pk, claim_token=token).update(
        last_id=last_id, claimed_until=_lease_until(), updated_at=timezone.now()
    )
    if not moved:
        raise LeaseLost(cursor.object_type)
    cursor.last_id = last_id


def _complete(cursor: PullCursor, token: uuid.UUID) -> None:
    """The pass read everything: the next one reads what changed since this one began."""
    overlap = timedelta(seconds=settings.CRM_PULL_OVERLAP_SECONDS)
    now = timezone.now()
    PullCursor.objects.filter(pk=cursor.pk, claim_token=token).update(
        since=(cursor.pass_started_at or now) - overlap,
        last_id="",
        pass_started_at=None,
        last_completed_at=now,
        updated_at=now,
    )


def _release(token: uuid.UUID) -> None:
    PullCursor.objects.filter(claim_token=token).update(claim_token=None, claimed_until=None)


# --- pulling ---------------------------------------------------------------------------------


def _apply_page(*, reader, backend: str, object_type: str, page, run, icp, write_cursor):
    """Write one page and move the cursor past it, in one transaction. Should a record arrive
    from a concurrent pull (a webhook's) first, the page is written again over it."""
    roles = None
    if store.kind_of(backend, object_type) == "role":
        roles = reader.roles_of([link.contact_id for link in page.records])
    for attempt in range(3):
        try:
            with transaction.atomic():
                out = store.apply(
                    backend=backend,
                    object_type=object_type,
                    records=page.records,
                    run=run,
                    icp=icp,
                    roles=roles,
                )
                write_cursor()
                return out
        except IntegrityError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def pull(
    *,
    trigger: str,
    by=None,
    run: SyncRun | None = None,
    full: bool = False,
    object_types: list[str] | None = None,
    time_budget: float | None = None,
    progress: Callable[[SyncRun], None] | None = None,
    backend: str | None = None,
    reader=None,
) -> SyncRun:
    """Read what changed in the CRM since the last pull into Accord. Returns the run.

    1. Take each object type's cursor under a lease (one a concurrent pull holds is left to
       it); `full` reads everything again instead of what changed.
    2. Ask the CRM how many records each pass will read (the run's total).
    3. Read each object type a page at a time, in id order; write each page (crm.pull.store)
       and move the cursor past it in one transaction; count it on the run.
    4. Stop when everything is read (the cursor then moves to when the pass began), when the
       CRM defers us or fails, or when `time_budget` seconds have passed (the next pull
       resumes where this one stopped).
    """
    from accounts_app.services import effective_icp

    services = _services()
    backend = backend or pull_backend()
    started = time.monotonic()
    if backend not in PULL_BACKENDS:
        message = f"There is no CRM to pull from: CRM_BACKEND is {backend_name()}."
        if run is not None:
            services._run_finished(run, state=SyncState.FAILED, message=message)
        raise ConfigurationError(message)
    if run is None:
        run = services.sync_run_create(
            kind=SyncKind.PULL, trigger=trigger, by=by, state=SyncState.RUNNING, backend=backend
        )
    else:
        services._run_started(run)
    try:
        reader = reader or reader_for(backend)
    except ConfigurationError as error:
        services._run_finished(run, state=SyncState.FAILED, message=error.message)
        raise
    unknown = set(object_types or ()) - set(reader.object_types)
    if unknown:
        reader.close()
        message = f"{backend} has no object type {', '.join(sorted(unknown))}."
        services._run_finished(run, state=SyncState.FAILED, message=message)
        raise ConfigurationError(message)
    token = uuid.uuid4()
    objects: dict[str, dict] = {}
    detail: dict = {"full": full, "objects": objects}
    stop, stop_state = "", ""
    try:
        cursors = []
        for object_type in object_types or reader.object_types:
            cursor = _claim(backend, object_type, token, run, full=full)
            if cursor is None:
                detail.setdefault("busy", []).append(object_type)
            else:
                cursors.append(cursor)
        total = 0
        for cursor in cursors:
            count = reader.count(cursor.object_type, since=cursor.since, after_id=cursor.last_id)
            objects[cursor.object_type] = {"total": count, **Outcome().counts()}
            total += count
        SyncRun.objects.filter(pk=run.pk).update(
            total=total,
            detail=detail,
            **services.request_counts(reader.stats),
            updated_at=timezone.now(),
        )
        run.refresh_from_db()
        if progress is not None:
            progress(run)
        icp = effective_icp()
        for cursor in cursors:
            counts = objects[cursor.object_type]
            pages = reader.pages(cursor.object_type, since=cursor.since, after_id=cursor.last_id)
            out_of_time = False
            for page in pages:
                out = _apply_page(
                    reader=reader,
                    backend=backend,
                    object_type=cursor.object_type,
                    page=page,
                    run=run,
                    icp=icp,
                    write_cursor=lambda c=cursor, p=page: _advance(c, token, p.last_id),
                )
                for name, value in out.counts().items():
                    counts[name] += value
                detail["skipped"] = detail.get("skipped", 0) + out.skipped
                _progress(run, out, reader.stats, detail)
                if progress is not None:
                    progress(run)
                if time_budget is not None and time.monotonic() - started > time_budget:
                    out_of_time = True
                    break
            if out_of_time:
                detail["more_to_pull"] = True
                break
            _complete(cursor, token)
    except LeaseLost as lost:
        stop, stop_state = (
            f"Another pull took over {lost.args[0]} (this one was too slow to renew its lease).",
            SyncState.PARTIAL,
        )
    except Deferred as deferred:
        stop, stop_state = deferred.message, SyncState.PARTIAL
        detail["retry_at"] = deferred.retry_at.isoformat()
    except CrmError as error:  # TransientError and ConfigurationError included
        stop, stop_state = error.message, SyncState.FAILED
    except BaseException as error:
        services._run_finished(
            run, state=SyncState.FAILED, message=f"{type(error).__name__}: {error}", detail=detail
        )
        raise
    finally:
        _release(token)
        reader.close()
    stats = reader.stats
    detail.update(
        {
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "server_errors": stats.server_errors,
            "waited_seconds": round(stats.waited_seconds, 2),
            "seconds": round(time.monotonic() - started, 2),
        }
    )
    services._run_finished(
        run, state=stop_state or SyncState.SUCCEEDED, message=stop, detail=detail, stats=stats
    )
    hooks.pull_finished.send(
        sender=SyncRun, state=run.state, more_to_pull=bool(detail.get("more_to_pull"))
    )
    return run


def pull_by_ids(
    *,
    object_type: str,
    ids: list[str],
    backend: str = "hubspot",
    trigger: str = SyncTrigger.WEBHOOK,
    reader=None,
) -> SyncRun:
    """Read these objects now (a webhook named them) and write them; those the CRM no longer
    has are forgotten (crm.pull.store.forget). No cursor moves."""
    services = _services()
    ids = list(dict.fromkeys(str(i) for i in ids))
    run = services.sync_run_create(
        kind=SyncKind.PULL,
        trigger=trigger,
        state=SyncState.RUNNING,
        backend=backend,
        total=len(ids),
    )
    detail: dict = {"object_type": object_type, "ids": ids[:100]}
    try:
        reader = reader or reader_for(backend)
    except ConfigurationError as error:
        services._run_finished(run, state=SyncState.FAILED, message=error.message)
        raise
    try:
        records, missing = reader.read(object_type, ids)
        roles = None
        if store.kind_of(backend, object_type) == "role":
            roles = reader.roles_of([link.contact_id for link in records])
        from accounts_app.services import effective_icp

        with transaction.atomic():
            out = store.apply(
                backend=backend,
                object_type=object_type,
                records=records,
                run=run,
                icp=effective_icp(),
                roles=roles,
            )
            out.deleted = store.forget(backend=backend, object_type=object_type, crm_ids=missing)
            out.read += len(missing)
            detail.update({"missing": missing[:100], "deleted": out.deleted})
            detail["skipped"] = out.skipped
            _progress(run, out, reader.stats, detail)
    except Deferred as deferred:
        services._run_finished(
            run, state=SyncState.PARTIAL, message=deferred.message, stats=reader.stats
        )
        return run
    except CrmError as error:
        services._run_finished(
            run, state=SyncState.FAILED, message=error.message, stats=reader.stats
        )
        return run
    except BaseException as error:
        services._run_finished(
            run, state=SyncState.FAILED, message=f"{type(error).__name__}: {error}"
        )
        raise
    finally:
        reader.close()
    services._run_finished(run, state=SyncState.SUCCEEDED, stats=reader.stats)
    return run


# --- asking for a pull (ops), and the worker's side ----------------------------------------------


def sync_run_request_pull(*, by, full: bool = False, trigger: str = SyncTrigger.ADMIN) -> SyncRun:
    """Ops ask for a pull (sync page, API): a queued run that a worker starts."""
    require_ops(by, "start a CRM pull")
    backend = pull_backend()
    if backend is None:
        raise Conflict(
            f"There is no CRM to pull from: CRM_BACKEND is {backend_name()} (set it to "
            "hubspot or salesforce)."
        )
    if (
        SyncRun.objects.filter(kind=SyncKind.PULL, state__in=ACTIVE)
        .exclude(trigger=SyncTrigger.WEBHOOK)
        .exists()
    ):
        raise Conflict("A pull is already queued or running; wait for it to finish.")
    from crm import tasks

    with transaction.atomic():
        run = _services().sync_run_create(
            kind=SyncKind.PULL, trigger=trigger, by=by, state=SyncState.QUEUED, backend=backend
        )
        SyncRun.objects.filter(pk=run.pk).update(detail={"full": bool(full)})
        run.detail = {"full": bool(full)}
        transaction.on_commit(lambda: _services()._queue(tasks.run_pull, run.pk))
    return run


def run_queued_pull(*, run: SyncRun, time_budget: float | None = None) -> SyncRun:
    """Carry out a queued pull run (the worker's side of sync_run_request_pull)."""
    now = timezone.now()
    claimed = SyncRun.objects.filter(pk=run.pk, state=SyncState.QUEUED).update(
        state=SyncState.RUNNING, started_at=now, updated_at=now
    )
    if not claimed:
        return run
    run.refresh_from_db()
    try:
        return pull(
            trigger=run.trigger,
            by=run.triggered_by,
            run=run,
            full=bool(run.detail.get("full")),
            time_budget=time_budget,
            backend=run.backend,
        )
    except ConfigurationError:
        run.refresh_from_db()
        return run


def pull_runs_tidy() -> dict[str, int]:
    """Runs a dead worker left RUNNING (no progress for longer than a lease) are marked failed;
    runs QUEUED for more than a minute (the broker was down when they were asked for) are
    returned for starting. Returns counts, and `queued`: the ids to start."""
    now = timezone.now()
    lease = timedelta(seconds=settings.CRM_PULL_LEASE_SECONDS)
    expired = SyncRun.objects.filter(
        kind=SyncKind.PULL, state=SyncState.RUNNING, updated_at__lt=now - lease
    ).update(
        state=SyncState.FAILED,
        finished_at=now,
        updated_at=now,
        message="The worker stopped without finishing (no progress for longer than the lease); "
        "the next pull resumes where it stopped.",
    )
    waiting = list(
        SyncRun.objects.filter(
            kind=SyncKind.PULL, state=SyncState.QUEUED, created_at__lt=now - timedelta(minutes=1)
        ).values_list("pk", flat=True)
    )
    return {"expired": expired, "queued": waiting}


def reader_types(backend: str) -> tuple[str, ...]:
    """The object types a backend's pull reads, in order."""
    if backend == "hubspot":
        from crm.pull.hubspot import OBJECT_TYPES
    else:
        from crm.pull.salesforce import OBJECT_TYPES
    return OBJECT_TYPES


def pull_links_reset(*, backend: str) -> dict[str, int]:
    """The CRM behind `backend` lost its records (the in-memory sandbox restarted): what Accord
    pulled from it goes, and its links to it are undone, so the next full pull links accounts
    and contacts afresh instead of refusing them as duplicates of records that are gone.

    Deals and activities read from it are deleted; contacts and accounts keep what they hold
    but lose the old CRM ids; the cursors start over. For the demo's sandbox only: a real
    CRM does not forget.
    """
    account_field, contact_field = CRM_ID_FIELDS[backend], store.CONTACT_ID[backend]
    deal_field = store.DEAL_ID[backend]
    now = timezone.now()
    with transaction.atomic():
        counts = {
            "opportunities": Opportunity.objects.exclude(**{deal_field: ""}).delete()[0],
            "activities": Activity.objects.filter(crm_id__startswith=f"{backend}:").delete()[0],
            "contacts": Contact.objects.exclude(**{contact_field: ""}).update(
                **{contact_field: "", "updated_at": now}
            ),
            "accounts": Account.objects.exclude(**{account_field: ""}).update(
                **{account_field: "", "updated_at": now}
            ),
        }
        PullCursor.objects.filter(backend=backend).delete()
    return counts
