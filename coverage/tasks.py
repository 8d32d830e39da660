"""Celery entry points of coverage: thin, they take ids and call coverage.services."""

from celery import shared_task

SNAPSHOT = {"acks_late": True}


@shared_task(**SNAPSHOT)
def snapshot_cycle(cycle_id: int) -> int | None:
    """Take today's snapshot of one cycle (replacing one taken earlier today). Returns its id."""
    from coverage import services
    from workflow.models import Cycle

    cycle = Cycle.objects.filter(pk=cycle_id).first()
    if cycle is None:
        return None
    return services.snapshot_take(cycle=cycle).pk


@shared_task(**SNAPSHOT)
def snapshot_active_cycles() -> list[int]:
    """Beat, nightly, and after each CRM pull: one task per active cycle, so a large cycle
    does not hold up the others and each has its own time limit."""
    from coverage import services

    ids = services.active_cycle_ids()
    for cycle_id in ids:
        snapshot_cycle.delay(cycle_id)
    return ids
