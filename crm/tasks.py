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
    and entries whose worker died (lease expired). Hands over to a new task when its time
    budget is spent and more is due."""
    from django.conf import settings

    from crm import outbox, services

    services.sync_runs_expire_stale()
    run = services.outbox_push(
        trigger=SyncTrigger.SWEEPER, sweep=True, time_budget=settings.CRM_PUSH_TIME_BUDGET_SECONDS
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
