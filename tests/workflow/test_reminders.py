"""The hourly beat task reminds the approvers a nomination waits for after the cycle's
reminder delay, and escalates to ops after its escalation delay, once each per wait."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from tests.factories import cycle
from tests.workflow.helpers import decide, fresh, nominate
from workflow import services, tasks
from workflow.models import Nomination, NominationEvent


@pytest.fixture
def slow_cycle(db):
    """Reminders after 24 hours, escalation after 72; sales must give two approvals."""
    return cycle("FY27 H2", sales_quorum=2, reminder_after_hours=24, escalate_after_hours=72)


@pytest.fixture
def waiting(people, slow_cycle, account):
    return nominate(people.marketer, slow_cycle, account)


def waited(nomination, hours):
    """Move the start of the current wait into the past (instead of freezing the clock)."""
    since = timezone.now() - timedelta(hours=hours)
    Nomination.objects.filter(pk=nomination.pk).update(waiting_since=since)


def run(mail):
    with mail.capture():
        return tasks.remind_waiting_nominations()


def logged(nomination, action):
    return list(NominationEvent.objects.filter(nomination=nomination, action=action))


def link(n):
    return settings.SITE_URL + reverse("workflow:nomination", args=[n.pk])


def test_it_does_nothing_before_the_reminder_delay(waiting, mail):
    waited(waiting, 23)

    assert run(mail) == {"reminded": 0, "escalated": 0}
    assert mail.outbox == []
    assert logged(waiting, "reminded") == []


def test_it_reminds_the_approvers_it_waits_for(people, waiting, mail):
    waited(waiting, 25)

    assert run(mail) == {"reminded": 1, "escalated": 0}

    assert mail.recipients() == ["sam@example.com", "sara@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[Accord] Reminder: Add to the list: Globex (Tier 1) · FY27 H2"
    assert "waited more than 24 hours for your side's sign-off" in message.body
    assert "approve, reject (with a reason) or request changes" in message.body
    assert link(waiting) in message.body
    [event] = logged(waiting, "reminded")
    assert (event.actor, event.from_state, event.to_state, event.round) == (
        None,
        "in_review",
        "in_review",
        1,
    )
    assert fresh(waiting).reminded_at is not None


def test_it_leaves_out_people_who_already_decided(people, waiting, mail):
    decide(waiting, people.sales_approver)
    waited(waiting, 25)

    run(mail)

    assert mail.recipients() == ["sara@example.com"]


def test_it_reminds_once_per_wait(people, waiting, mail):
    waited(waiting, 25)
    run(mail)
    mail.outbox.clear()

    assert run(mail) == {"reminded": 0, "escalated": 0}
    assert mail.outbox == []
    assert len(logged(waiting, "reminded")) == 1


def test_it_escalates_to_ops_after_the_escalation_delay(people, waiting, mail):
    waited(waiting, 25)
    run(mail)
    mail.outbox.clear()
    waited(waiting, 73)

    assert run(mail) == {"reminded": 0, "escalated": 1}

    assert mail.recipients() == ["olga@example.com"]
    message = mail.outbox[0]
    assert message.subject == "[Accord] Escalation: Add to the list: Globex (Tier 1) · FY27 H2"
    assert "waited more than 72 hours for a decision" in message.body
    assert "Waiting for: Sales (0 of 2 approvals)" in message.body
    assert "Please follow up" in message.body
    assert link(waiting) in message.body
    assert len(logged(waiting, "escalated")) == 1
    assert fresh(waiting).escalated_at is not None


def test_it_escalates_once_per_wait(people, waiting, mail):
    waited(waiting, 80)
    run(mail)
    mail.outbox.clear()

    assert run(mail) == {"reminded": 0, "escalated": 0}
    assert mail.outbox == []
    assert len(logged(waiting, "escalated")) == 1


def test_it_both_reminds_and_escalates_a_nomination_past_both_delays(people, waiting, mail):
    waited(waiting, 80)

    assert run(mail) == {"reminded": 1, "escalated": 1}

    assert mail.recipients() == ["olga@example.com", "sam@example.com", "sara@example.com"]
    assert len(logged(waiting, "reminded")) == 1
    assert len(logged(waiting, "escalated")) == 1


def test_a_resubmission_starts_a_new_wait(people, waiting, mail):
    waited(waiting, 80)
    run(mail)
    decide(waiting, people.sales_approver, "request_changes", note="Tier 2?")
    services.nomination_resubmit(nomination=waiting, by=people.marketer, tier=2)
    mail.outbox.clear()

    assert run(mail) == {"reminded": 0, "escalated": 0}, "the new wait has just begun"

    waited(waiting, 25)
    assert run(mail) == {"reminded": 1, "escalated": 0}
    assert [e.round for e in logged(waiting, "reminded")] == [1, 2]


def test_it_leaves_decided_nominations_alone(people, waiting, mail):
    decide(waiting, people.sales_approver, "reject", note="No")
    Nomination.objects.filter(pk=waiting.pk).update(
        waiting_since=timezone.now() - timedelta(hours=200)
    )

    assert run(mail) == {"reminded": 0, "escalated": 0}
    assert mail.outbox == []


def test_it_uses_each_cycles_own_delays(people, account, mail):
    quick = cycle("FY28 H1", reminder_after_hours=1, escalate_after_hours=2)
    n = nominate(people.marketer, quick, account)
    waited(n, 1.5)

    assert run(mail) == {"reminded": 1, "escalated": 0}


def test_the_service_refuses_a_reminder_that_is_not_due(waiting):
    waited(waiting, 2)

    assert services.nomination_remind(nomination=waiting, escalate=False) is False
    assert services.nomination_remind(nomination=waiting, escalate=True) is False
    assert logged(waiting, "reminded") == []


def test_the_service_reminds_and_escalates_once_even_when_called_twice(waiting, mail):
    # Two beat runs at the same moment both see a due nomination; only one may act.
    waited(waiting, 80)

    with mail.capture():
        assert services.nomination_remind(nomination=waiting, escalate=False) is True
        assert services.nomination_remind(nomination=waiting, escalate=False) is False
        assert services.nomination_remind(nomination=waiting, escalate=True) is True
        assert services.nomination_remind(nomination=waiting, escalate=True) is False

    assert len(logged(waiting, "reminded")) == 1
    assert len(logged(waiting, "escalated")) == 1
    assert mail.recipients() == ["olga@example.com", "sam@example.com", "sara@example.com"]
