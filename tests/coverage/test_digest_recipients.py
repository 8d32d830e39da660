"""Who gets the digest: every active person on marketing or sales with an e-mail address, and
ops; one e-mail each. A digest that cannot be sent is kept for ops to retry."""

import pytest
from django.core import mail

from coverage import tasks
from coverage.services import snapshot_take
from tests.factories import person
from workflow.models import FailedNotification


@pytest.fixture
def snapshot(world):
    return snapshot_take(cycle=world.cycle, as_of=world.as_of)


def test_both_sides_and_ops_get_one_e_mail_each(people, snapshot):
    gone = person("gus", side="sales", is_active=False)
    silent = person("sue", side="marketing", email="")
    outsider = person("nora", side=None)
    both = person("bo", side="sales")
    both.groups.add(*type(people.marketer).objects.get(pk=people.marketer.pk).groups.all())
    mail.outbox.clear()

    sent = tasks.digest_send_weekly()

    expected = {
        people.marketer.email,
        people.marketing_approver.email,
        people.marketing_member.email,
        people.sales_approver.email,
        people.sales_approver_2.email,
        people.sales_member.email,
        people.ops.email,
    }
    assert sent == len(expected)
    addresses = [m.to for m in mail.outbox]
    assert sorted(a for (a,) in addresses) == sorted(expected)  # one address per e-mail
    for nobody in (gone, outsider, both):
        assert [nobody.email] not in addresses
    assert silent.email == ""


def test_an_inactive_person_gets_nothing_even_from_a_queued_task(people, snapshot):
    gone = person("gus", side="sales", is_active=False)
    mail.outbox.clear()
    assert tasks.digest_send(gone.pk) == 0
    assert tasks.digest_send(999_999) == 0
    assert mail.outbox == []


def test_a_digest_that_cannot_be_sent_is_kept_for_ops(people, snapshot, settings):
    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    with pytest.raises(Exception, match="Connection unexpectedly closed"):
        tasks.digest_send(people.sales_member.pk)
    failed = FailedNotification.objects.get()
    assert failed.task_name == tasks.digest_send.name
    assert failed.args == [people.sales_member.pk]
    assert failed.description == f"Weekly coverage digest, person {people.sales_member.pk}"


def test_ops_retry_a_failed_digest_and_it_is_sent(people, snapshot, settings):
    from workflow.services import notification_retry

    settings.EMAIL_BACKEND = "tests.workflow.test_notifications_never_lost.RefusingBackend"
    with pytest.raises(Exception, match="Connection unexpectedly closed"):
        tasks.digest_send(people.sales_member.pk)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    mail.outbox.clear()

    assert notification_retry(failed=FailedNotification.objects.get(), by=people.ops)

    assert [m.to for m in mail.outbox] == [[people.sales_member.email]]
