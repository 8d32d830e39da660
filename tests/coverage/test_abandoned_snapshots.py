"""A snapshot left "running" by a worker killed or a command stopped mid-way: the dashboard stops
showing it as being taken once COVERAGE_SNAPSHOT_STALE_MINUTES have passed, and the cycle's next
snapshot marks it failed and deletes what it wrote."""

from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from coverage.models import AccountCoverage, Snapshot, SnapshotState
from coverage.selectors import definitions_effective
from coverage.services import snapshot_take


def running_since(cycle, minutes: int) -> Snapshot:
    snapshot = Snapshot.objects.create(
        cycle=cycle,
        taken_on=timezone.localdate(),
        as_of=timezone.now(),
        definitions_version=definitions_effective(),
        total=20,
        done=5,
    )
    Snapshot.objects.filter(pk=snapshot.pk).update(
        taken_at=timezone.now() - timedelta(minutes=minutes)
    )
    return snapshot


def shows_running(cycle, user) -> bool:
    client = Client()
    client.force_login(user)
    response = client.get(reverse("coverage:dashboard", args=[cycle.pk]))
    assert response.status_code == 200
    return 'data-testid="running"' in response.content.decode()


def test_the_dashboard_shows_a_snapshot_being_taken_but_not_one_abandoned(world, people, settings):
    settings.COVERAGE_SNAPSHOT_STALE_MINUTES = 60
    recent = running_since(world.cycle, 10)
    assert shows_running(world.cycle, people.marketing_member)
    Snapshot.objects.filter(pk=recent.pk).update(taken_at=timezone.now() - timedelta(hours=2))
    assert not shows_running(world.cycle, people.marketing_member)


def test_the_next_snapshot_marks_an_abandoned_one_failed_and_deletes_its_rows(world, settings):
    settings.COVERAGE_SNAPSHOT_STALE_MINUTES = 60
    done = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    abandoned = running_since(world.cycle, 61)
    AccountCoverage.objects.filter(snapshot=done).update(snapshot=abandoned)  # its rows
    recent = running_since(world.cycle, 5)  # another worker's, still going

    snapshot_take(cycle=world.cycle, as_of=world.as_of)

    abandoned.refresh_from_db()
    assert abandoned.state == SnapshotState.FAILED
    assert "Abandoned: still running 60 minutes after it started" in abandoned.message
    assert abandoned.finished_at is not None
    assert not AccountCoverage.objects.filter(snapshot=abandoned).exists()
    recent.refresh_from_db()
    assert recent.state == SnapshotState.RUNNING
