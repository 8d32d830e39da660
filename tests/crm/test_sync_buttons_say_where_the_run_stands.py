""" "Push now" and "Pull now" say "queued" only while the run is. When tasks run in the web
process (the embedded run; here, Celery eager and real commits) the run has finished by the
time the page comes back, and the message says how it ended."""

import pytest
from django.test import Client
from django.urls import reverse

from crm.models import OutboxEntry, SyncKind, SyncRun, SyncState
from tests.factories import AccountFactory

# Real commits: the run is queued after commit, as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def press(people, button, data=None):
    client = Client()
    client.force_login(people.ops)
    return client.post(reverse(button), data or {}, follow=True)


def test_pull_now_says_the_pull_finished_when_it_already_has(hubspot, people):
    response = press(people, "crm:pull")

    run = SyncRun.objects.get(kind=SyncKind.PULL)
    assert run.state == SyncState.SUCCEEDED
    page = response.content.decode()
    assert f"Pull #{run.pk} succeeded (0 records read, 0 failed)." in page
    assert "is queued" not in page


def test_push_now_says_what_it_sent(hubspot, people):
    # A change waiting in the outbox (written as the outbox does, without pushing it).
    OutboxEntry.objects.create(account=AccountFactory(name="Globex"), change="added")

    response = press(people, "crm:push")

    run = SyncRun.objects.get(kind=SyncKind.PUSH)
    assert (run.state, run.sent) == (SyncState.SUCCEEDED, 1)
    page = response.content.decode()
    assert f"Push #{run.pk} succeeded (1 record sent, 0 failed)." in page
    assert "is queued" not in page


def test_a_pull_that_fails_says_so_with_the_reason(hubspot, people, settings):
    settings.HUBSPOT_ACCESS_TOKEN = "not-the-token"

    page = press(people, "crm:pull").content.decode()

    run = SyncRun.objects.get(kind=SyncKind.PULL)
    assert run.state == SyncState.FAILED
    assert f"Pull #{run.pk} failed (0 records read, 0 failed): {run.message}" in page
    assert "is queued" not in page
