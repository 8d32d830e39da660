from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.admin.helpers import nominate
from workflow.models import EventAction, Nomination

pytestmark = pytest.mark.django_db

URL = "/admin/workflow/nomination/send-reminders/"


def test_ops_send_the_due_reminders_now(ops, people, the_cycle, django_capture_on_commit_callbacks):
    n = nominate(the_cycle, people.marketer)
    Nomination.objects.filter(pk=n.pk).update(waiting_since=timezone.now() - timedelta(hours=80))
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = ops.post(URL, follow=True)

    assert "Reminded the approvers of 1 nomination(s); escalated 0" in response.content.decode()
    assert n.events.filter(action=EventAction.REMINDED).count() == 1
    assert any("Reminder" in m.subject for m in mail.outbox)


def test_nothing_is_due_says_so(ops, people, the_cycle):
    nominate(the_cycle, people.marketer)

    response = ops.post(URL, follow=True)

    assert "No nomination has waited long enough for a reminder." in response.content.decode()


def test_the_button_is_shown_to_ops_and_needs_a_post(ops):
    assert "Send reminders now" in ops.get("/admin/workflow/nomination/").content.decode()
    assert ops.get(URL).status_code == 405
