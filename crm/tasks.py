"""Celery entry points of the CRM sync: thin, they take ids and call crm.services.

With acks_late and reject_on_worker_lost (config/settings.py) a task whose worker dies is given
back to the queue; the outbox's leases make running a push twice harmless.
"""

from celery import shared_task

from crm.models import SyncTrigger

PUSH = {"acks_late": True}


@shared_task(**PUSH)
def push_outbox(entry_ids: list[int]) -> int | None:
    """After commit: push these outbox entries (those still due). Returns the run's id."""
    from crm import services

    run = services.outbox_push(trigger=SyncTrigger.APPROVAL, ids=[int(i) for i in entry_ids])
    return run.pk if run else None


@shared_task(**PUSH)
def sweep_outbox() -> int | None:
    """Beat, every minute: entries still pending a minute after their change, retries now due,
    and entries whose worker died (lease expired); also runs whose worker died (marked
    failed) and pushes ops asked for whose task never came (started). Hands over to a new
    task when its time budget is spent and more is due."""
    from django.conf import settings

    from crm import outbox, services

    services.sync_runs_expire_stale()
    services.sync_runs_start_queued()
    run = services.outbox_push(
        trigger=SyncTrigger.SWEEPER,
        sweep=True,
        time_budget=settings.CRM_PUSH_TIME_BUDGET_SECONDS,
        concurrency=services.push_concurrency(),
    )
    if run is not None and run.detail.get("more_to_push") and outbox.count_claimable(sweep=True):
        sweep_outbox.delay()
    return run.pk if run else None


@shared_task(**PUSH)
def run_push(run_id: int) -> int:
    """A push ops asked for (admin, sync page, API)."""
    from crm import services
    from crm.models import SyncRun

    run = SyncRun.objects.filter(pk=run_id).select_related("cycle", "triggered_by").first()
    if run is not None:
        services.run_queued_push(run=run)
    return run_id


# --- The pull (crm/pull/) and the inbound webhook ------------------------------------------------


@shared_task(**PUSH)
def pull_scheduled() -> int | None:
    """Beat, every 15 minutes: read what changed in the CRM since the last pull. Also starts
    pulls ops asked for while the broker was down, marks pulls of dead workers failed and
    forgets old webhook event ids. Hands over to a new task when its time budget is spent."""
    from django.conf import settings

    from crm import webhooks
    from crm.pull import services

    tidy = services.pull_runs_tidy()
    for run_id in tidy["queued"]:
        run_pull.delay(run_id)
    webhooks.webhook_events_forget()
    if services.pull_backend() is None:
        return None
    run = services.pull(
        trigger=SyncTrigger.SCHEDULE, time_budget=settings.CRM_PULL_TIME_BUDGET_SECONDS
    )
    if run.detail.get("more_to_pull"):
        pull_scheduled.delay()
    return run.pk


@shared_task(**PUSH)
def run_pull(run_id: int) -> int:
    """A pull ops asked for (sync page, API)."""
    from django.conf import settings

    from crm.models import SyncRun
    from crm.pull import services

    run = SyncRun.objects.filter(pk=run_id).select_related("triggered_by").first()
    if run is not None:
        run = services.run_queued_pull(run=run, time_budget=settings.CRM_PULL_TIME_BUDGET_SECONDS)
        if run.detail.get("more_to_pull"):
            pull_scheduled.delay()
    return run_id


@shared_task(**PUSH)
def pull_objects(backend: str, object_type: str, ids: list[str]) -> int:
    """A webhook named these objects: read them now. Returns the run's id."""
    from crm.pull import services

    return services.pull_by_ids(
        object_type=object_type, ids=[str(i) for i in ids], backend=backend
    ).pk
