"""A notification is never lost silently: names cannot carry a header onto a mail, a subject is
one line whatever it quotes, and an e-mail that fails for good is kept for ops to retry."""

import smtplib

import pytest
from django.core import mail

from accounts_app.services import account_create, account_update
from core.errors import Invalid, NotAllowed
from tests.factories import AccountFactory
from tests.workflow.helpers import nominate
from workflow import services, tasks
from workflow.models import FailedNotification, State

pytestmark = pytest.mark.django_db

INJECTION = "Evil Corp\r\nBcc: attacker@evil.example"


@pytest.mark.parametrize(
    "name", [INJECTION, "Evil\nCorp", "Evil\tCorp", "Evil\x00Corp", "Evil\u2028Corp"]
)
def test_an_account_name_with_a_line_break_or_control_character_is_refused(people, name):
    with pytest.raises(Invalid) as refused:
        account_create(name=name, domain="evil.example", by=people.marketer)

    assert refused.value.field == "name"
    assert "one line" in refused.value.message


def test_renaming_an_account_to_two_lines_is_refused(people):
    account = AccountFactory(name="Globex")

    with pytest.raises(Invalid):
        account_update(account=account, by=people.ops, name=INJECTION)


def test_a_cycle_name_with_a_line_break_is_refused(people):
    with pytest.raises(Invalid) as refused:
        services.cycle_create(
            name="FY27\r\nBcc: x@evil.example",
            starts_on=None,
            ends_on=None,
            by=people.ops,
            capacities={1: 5, 2: 5, 3: 5},
        )

    assert refused.value.field == "name"


def test_a_display_name_with_a_line_break_still_gives_a_one_line_subject(
    people, the_cycle, django_capture_on_commit_callbacks
):
    # People's names are edited in the admin, outside the services: the subject is flattened.
    people.marketer.first_name = "Mara\r\nBcc: attacker@evil.example"
    people.marketer.save()
    account = AccountFactory(name="Globex")
    comment_author = people.marketer
    n = nominate(people.marketer, the_cycle, account)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        services.comment_create(nomination=n, by=comment_author, body="What do you think @sam?")

    (message,) = mail.outbox
    assert "\n" not in message.subject and "\r" not in message.subject
    assert message.bcc == [] and message.to == [people.sales_approver.email]
    assert not FailedNotification.objects.exists()


@pytest.fixture
def retries_run(settings):
    """As a worker runs them: each retry of a failed task runs (at once, in-process)."""
    from config.celery import app

    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = True


def test_an_e_mail_that_fails_in_process_is_kept_for_ops_at_once(
    people, the_cycle, settings, django_capture_on_commit_callbacks
):
    # The embedded default: no broker, no retries.
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    RefusingBackend.attempts = 0

    with django_capture_on_commit_callbacks(execute=True):
        n = nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))

    failed = FailedNotification.objects.get()
    assert (failed.args, RefusingBackend.attempts) == ([n.pk], 1)


def test_an_e_mail_that_keeps_failing_is_kept_for_ops_after_its_retries(
    people, the_cycle, settings, django_capture_on_commit_callbacks, retries_run
):
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    RefusingBackend.attempts = 0
    account = AccountFactory(name="Globex")

    with django_capture_on_commit_callbacks(execute=True):
        n = nominate(people.marketer, the_cycle, account)

    assert n.state == State.IN_REVIEW  # the nomination stands
    failed = FailedNotification.objects.get()
    assert failed.task_name == tasks.notify_nomination_waiting.name
    assert failed.args == [n.pk]
    assert "SMTPServerDisconnected" in failed.error
    assert failed.description == f"Waiting for your side, nomination {n.pk}"
    assert RefusingBackend.attempts == 1 + tasks.notify_nomination_waiting.max_retries


def test_ops_retry_a_failed_e_mail_and_it_is_sent(
    people, the_cycle, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        n = nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))
    failed = FailedNotification.objects.get()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()

    assert services.notification_retry(failed=failed, by=people.ops) is True

    assert {m.to[0] for m in mail.outbox} == {
        people.sales_approver.email,
        people.sales_approver_2.email,
    }
    assert all(str(n.account.name) in m.subject for m in mail.outbox)
    failed.refresh_from_db()
    assert failed.retried_by == people.ops and failed.retried_at is not None
    # Once: a second retry of the same row sends nothing.
    assert services.notification_retry(failed=failed, by=people.ops) is False


def test_only_ops_retry_e_mails(people):
    failed = FailedNotification.objects.create(
        task_id="t-1", task_name=tasks.notify_decision.name, args=[1], description="x", error="e"
    )

    with pytest.raises(NotAllowed):
        services.notification_retry(failed=failed, by=people.sales_approver)


def test_an_e_mail_that_fails_once_and_then_goes_through_is_not_kept(
    people, the_cycle, settings, django_capture_on_commit_callbacks, retries_run
):
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.FlakyBackend"
    FlakyBackend.sent = []

    with django_capture_on_commit_callbacks(execute=True):
        nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))

    assert len(FlakyBackend.sent) == 2
    assert not FailedNotification.objects.exists()


def test_a_refused_header_is_not_retried_and_is_kept(
    people, the_cycle, settings, django_capture_on_commit_callbacks, retries_run
):
    from django.core.mail import BadHeaderError

    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.HeaderRefusingBackend"
    HeaderRefusingBackend.attempts = 0

    with django_capture_on_commit_callbacks(execute=True):
        nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))

    assert HeaderRefusingBackend.attempts == 1
    assert BadHeaderError.__name__ in FailedNotification.objects.get().error


def test_an_e_mail_that_cannot_even_be_queued_is_kept_for_ops(
    people, the_cycle, settings, django_capture_on_commit_callbacks, broker_down
):
    with django_capture_on_commit_callbacks(execute=True):
        n = nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))

    failed = FailedNotification.objects.get()
    assert failed.args == [n.pk]
    assert "Could not be queued" in failed.error


def test_ops_see_failed_e_mails_in_the_admin_and_retry_them_there(
    people, the_cycle, settings, client, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    with django_capture_on_commit_callbacks(execute=True):
        nominate(people.marketer, the_cycle, AccountFactory(name="Globex"))
    failed = FailedNotification.objects.get()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    ops, _ = services.person_set_role(username="opal", role="ops")  # as accord_user makes them
    client.force_login(ops)

    listing = client.get("/admin/workflow/failednotification/")
    assert listing.status_code == 200
    assert "Waiting for your side, nomination" in listing.content.decode()

    client.post(
        "/admin/workflow/failednotification/",
        {"action": "retry", "_selected_action": [failed.pk]},
    )
    failed.refresh_from_db()
    assert failed.retried_at is not None
    assert len(mail.outbox) == 2


def test_people_on_a_side_do_not_see_failed_e_mails(people, client):
    client.force_login(people.sales_approver)
    assert client.get("/admin/workflow/failednotification/").status_code == 302


class RefusingBackend:
    """A mail server that hangs up at every attempt (outside Accord: a fake is fine)."""

    attempts = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        RefusingBackend.attempts += 1
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")


class FlakyBackend:
    """Hangs up on the first attempt, then delivers."""

    sent: list = []
    failed_once = False

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        if not FlakyBackend.failed_once:
            FlakyBackend.failed_once = True
            raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
        FlakyBackend.sent.extend(messages)
        return len(messages)


class HeaderRefusingBackend:
    attempts = 0

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        from django.core.mail import BadHeaderError

        HeaderRefusingBackend.attempts += 1
        raise BadHeaderError("Header values can't contain newlines")
