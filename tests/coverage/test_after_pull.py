"""After each CRM pull that finishes, every active cycle's snapshot is taken again (coverage
listens to crm.signals.pull_finished; crm does not know coverage)."""

import pytest

from coverage.models import AccountCoverage, Snapshot, SnapshotState
from tests.crm.conftest import fast_retries, hubspot  # noqa: F401 (fixtures)
from tests.crm.pull_helpers import link_hubspot, pull, seed_hubspot
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list


@pytest.fixture
def globex_on_the_list(people, the_cycle, hubspot):  # noqa: F811
    globex = AccountFactory(name="Globex", domain="globex.example")
    put_on_list(people, the_cycle, globex)
    [company] = seed_hubspot(hubspot, "companies", {"name": "Globex", "domain": "globex.example"})
    ada, bob = seed_hubspot(
        hubspot, "contacts", {"email": "ada@globex.example"}, {"email": "bob@globex.example"}
    )
    link_hubspot(
        hubspot, ("contacts", ada, "companies", company), ("contacts", bob, "companies", company)
    )
    return globex


def snapshots():
    return Snapshot.objects.filter(state=SnapshotState.DONE)


def test_a_finished_pull_snapshots_the_active_cycles_with_what_it_brought(
    globex_on_the_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = pull()
    assert run.state == "succeeded"
    row = AccountCoverage.objects.get(snapshot=snapshots().get())
    assert row.account == globex_on_the_list
    assert row.contacts == 2


def test_a_pull_that_hands_over_to_another_task_waits_for_it(
    globex_on_the_list, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        run = pull(time_budget=0)
    assert run.detail.get("more_to_pull")
    assert not snapshots().exists()


def test_a_failed_pull_takes_no_snapshot(
    globex_on_the_list, settings, django_capture_on_commit_callbacks
):
    settings.HUBSPOT_ACCESS_TOKEN = "not-the-token"
    with django_capture_on_commit_callbacks(execute=True):
        run = pull()
    assert run.state == "failed"
    assert not snapshots().exists()
