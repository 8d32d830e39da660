"""Celery entry points of coverage: thin, they take ids and call coverage.services."""

from celery import shared_task

# The notifications' task base: a digest that cannot be sent is kept for ops (FailedNotification,
# listed and retried in the admin), never lost silently.
from workflow.tasks import NotificationTask

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


# --- The weekly digest (coverage/digest.py, coverage/slack.py) --------------------------------


@shared_task(acks_late=True)
def digest_send_weekly() -> int:
    """Beat, weekly (COVERAGE_DIGEST_WEEKDAY, COVERAGE_DIGEST_HOUR): one e-mail task per
    reader, so one failed address is kept and retried alone; then the Slack post."""
    from django.conf import settings

    from coverage import digest

    people = digest.digest_recipients()
    for person in people:
        digest_send.delay(person.pk)
    if settings.COVERAGE_DIGEST_SLACK_WEBHOOK_URL:
        digest_post_to_slack.delay()
    return len(people)


@shared_task(base=NotificationTask, describes="Weekly coverage digest, person")
def digest_send(person_id: int) -> int:
    from django.contrib.auth import get_user_model

    from coverage import digest

    person = get_user_model().objects.filter(pk=person_id, is_active=True).first()
    return digest.digest_send(person=person) if person else 0


@shared_task(base=NotificationTask, describes="Weekly coverage digest to Slack")
def digest_post_to_slack() -> bool | None:
    from coverage import slack

    return slack.digest_post()
