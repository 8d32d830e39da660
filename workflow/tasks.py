"""Celery entry points: load by id, call a service or a sender. With no broker configured
they run in-process (CELERY_TASK_ALWAYS_EAGER)."""

import smtplib
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

TRANSIENT = (smtplib.SMTPException, ConnectionError, TimeoutError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": True, "max_retries": 5, "acks_late": True}


@shared_task(**RETRY)
def notify_nomination_waiting(nomination_id: int) -> int:
    from workflow import notifications
    from workflow.models import Nomination

    nomination = (
        Nomination.objects.select_related("cycle", "account", "proposer")
        .filter(pk=nomination_id)
        .first()
    )
    return notifications.send_waiting(nomination) if nomination else 0


@shared_task(**RETRY)
def notify_decision(sign_off_id: int) -> int:
    from workflow import notifications
    from workflow.models import SignOff

    sign_off = (
        SignOff.objects.select_related(
            "person", "nomination__proposer", "nomination__account", "nomination__cycle"
        )
        .filter(pk=sign_off_id)
        .first()
    )
    return notifications.send_decision(sign_off) if sign_off else 0


@shared_task(**RETRY)
def notify_mentions(comment_id: int) -> int:
    from workflow import notifications
    from workflow.models import Comment

    comment = (
        Comment.objects.select_related("author", "nomination__account", "nomination__cycle")
        .filter(pk=comment_id)
        .first()
    )
    return notifications.send_mentions(comment) if comment else 0


@shared_task(**RETRY)
def notify_reminder(nomination_id: int) -> int:
    from workflow import notifications

    nomination = _waiting_nomination(nomination_id)
    return notifications.send_reminder(nomination) if nomination else 0


@shared_task(**RETRY)
def notify_escalation(nomination_id: int) -> int:
    from workflow import notifications

    nomination = _waiting_nomination(nomination_id)
    return notifications.send_escalation(nomination) if nomination else 0


def _waiting_nomination(nomination_id: int):
    from workflow.models import Nomination

    return (
        Nomination.objects.select_related("cycle", "account", "proposer")
        .filter(pk=nomination_id)
        .first()
    )


@shared_task(acks_late=True)
def remind_waiting_nominations() -> dict:
    """Beat task: remind the waiting side after the cycle's reminder delay, escalate to ops
    after its escalation delay, each once per wait. A nomination found past both delays gets
    both: its approvers were never reminded. The service re-checks everything under a row
    lock and sends the e-mails after commit."""
    from django.db.models import Q

    from workflow import services
    from workflow.models import Nomination, State

    now = timezone.now()
    counts = {"reminded": 0, "escalated": 0}
    # In-review nominations are few (hundreds): comparing the per-cycle delays in Python keeps
    # this portable across databases.
    waiting = (
        Nomination.objects.filter(state=State.IN_REVIEW, waiting_since__isnull=False)
        .filter(Q(reminded_at__isnull=True) | Q(escalated_at__isnull=True))
        .select_related("cycle")
        .order_by("pk")
    )
    for nomination in waiting.iterator(chunk_size=500):
        waited = now - nomination.waiting_since
        remind_due = waited >= timedelta(hours=nomination.cycle.reminder_after_hours)
        escalate_due = waited >= timedelta(hours=nomination.cycle.escalate_after_hours)
        if (
            nomination.reminded_at is None
            and remind_due
            and services.nomination_remind(nomination=nomination, escalate=False, now=now)
        ):
            counts["reminded"] += 1
        if (
            nomination.escalated_at is None
            and escalate_due
            and services.nomination_remind(nomination=nomination, escalate=True, now=now)
        ):
            counts["escalated"] += 1
    return counts
