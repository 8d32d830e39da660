"""Celery entry points: load by id, call a service or a sender. With no broker configured
they run in-process (CELERY_TASK_ALWAYS_EAGER)."""

import logging
import smtplib
from datetime import timedelta

from celery import Task, shared_task
from celery.exceptions import Retry
from django.utils import timezone

logger = logging.getLogger(__name__)

# Errors a mail server may get over: retried. Anything else (a refused header, a bug) fails at
# once. Either way the final failure is kept for ops (NotificationTask.on_failure).
TRANSIENT = (smtplib.SMTPException, ConnectionError, TimeoutError)


class NotificationTask(Task):
    """An e-mail task whose final failure is never silent: it is logged and stored as a
    FailedNotification, listed in the admin where ops retry it.

    Final means: an error that retrying will not mend, or a passing one once the retries are
    used up (autoretry then raises the error itself). Run in-process with errors propagated
    (the embedded default, no broker), a retry is never run, so its first failure is final.
    """

    autoretry_for = TRANSIENT
    retry_backoff = True
    max_retries = 5
    acks_late = True
    describes = "E-mail"  # what the admin's list calls it, followed by the ids it was given

    def __call__(self, *args, **kwargs):
        try:
            return super().__call__(*args, **kwargs)
        except Retry as retry:
            if self.request.is_eager and self.app.conf.task_eager_propagates:
                self._keep(retry.exc or retry, args)
            raise
        except Exception as error:
            self._keep(error, args)
            raise

    def _keep(self, error: BaseException, args) -> None:
        from workflow.services import notification_failure_record

        notification_failure_record(
            task_id=self.request.id or f"unknown-{id(error)}",
            task_name=self.name,
            args=list(args),
            description=f"{self.describes} {', '.join(map(str, args))}".strip(),
            error=f"{type(error).__name__}: {error}",
        )


RETRY = {"base": NotificationTask}


@shared_task(**RETRY, describes="Waiting for your side, nomination")
def notify_nomination_waiting(nomination_id: int) -> int:
    from workflow import notifications
    from workflow.models import Nomination

    nomination = (
        Nomination.objects.select_related("cycle", "account", "proposer")
        .filter(pk=nomination_id)
        .first()
    )
    return notifications.send_waiting(nomination) if nomination else 0


@shared_task(**RETRY, describes="Decision, sign-off")
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


@shared_task(**RETRY, describes="Mentions, comment")
def notify_mentions(comment_id: int) -> int:
    from workflow import notifications
    from workflow.models import Comment

    comment = (
        Comment.objects.select_related("author", "nomination__account", "nomination__cycle")
        .filter(pk=comment_id)
        .first()
    )
    return notifications.send_mentions(comment) if comment else 0


@shared_task(**RETRY, describes="Reminder, nomination")
def notify_reminder(nomination_id: int) -> int:
    from workflow import notifications

    nomination = _waiting_nomination(nomination_id)
    return notifications.send_reminder(nomination) if nomination else 0


@shared_task(**RETRY, describes="Escalation, nomination")
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
    from workflow.models import CycleState, Nomination, State

    now = timezone.now()
    counts = {"reminded": 0, "escalated": 0}
    # In-review nominations are few (hundreds): comparing the per-cycle delays in Python keeps
    # this portable across databases.
    waiting = (
        Nomination.objects.filter(state=State.IN_REVIEW, waiting_since__isnull=False)
        .exclude(cycle__state=CycleState.CLOSED)  # read-only once its cycle closed
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
