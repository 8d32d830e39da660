"""Ways a snapshot is taken: the Celery task, the nightly beat row, `manage.py
coverage_snapshot` with its progress bar, and the admin action of revenue operations."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import PeriodicTask

from coverage import tasks
from coverage.models import Snapshot, SnapshotState
from tests.factories import cycle
from workflow.models import CycleState


def done(cycle_):
    return Snapshot.objects.filter(cycle=cycle_, state=SnapshotState.DONE)


def test_the_task_takes_todays_snapshot_of_the_cycle(world):
    snapshot_id = tasks.snapshot_cycle(world.cycle.pk)
    snapshot = done(world.cycle).get()
    assert snapshot.pk == snapshot_id
    assert snapshot.aggregates["cycle"]["accounts"] == 6


def test_the_task_of_a_cycle_that_is_gone_does_nothing(db):
    assert tasks.snapshot_cycle(999_999) is None
    assert not Snapshot.objects.exists()


def test_the_nightly_task_snapshots_every_active_cycle_and_no_other(world):
    planning = cycle("FY28 H1", state=CycleState.PLANNING)
    closed = cycle("FY26 H2", state=CycleState.CLOSED)
    assert tasks.snapshot_active_cycles() == [world.cycle.pk]
    assert done(world.cycle).count() == 1
    assert not done(planning).exists()
    assert not done(closed).exists()


def test_a_migration_seeds_the_nightly_beat_row(db):
    from config.celery import app

    row = PeriodicTask.objects.get(name="coverage: nightly snapshot of active cycles")
    assert row.task == "coverage.tasks.snapshot_active_cycles"
    assert row.task in app.tasks
    assert row.enabled
    assert (row.crontab.minute, row.crontab.hour, row.crontab.day_of_week) == ("30", "2", "*")


def test_the_command_takes_a_snapshot_with_a_progress_bar(world):
    out = StringIO()
    call_command(
        "coverage_snapshot",
        "--cycle",
        str(world.cycle.pk),
        "--as-of",
        world.as_of.isoformat(),
        stdout=out,
    )
    output = out.getvalue()
    snapshot = done(world.cycle).get()
    assert re.search(r"100%\|#+\| 6/6 ", output)
    assert (
        f"Snapshot #{snapshot.pk} of FY27 H1 for {world.as_of:%Y-%m-%d} (definitions v1): "
        "6 accounts, 50% fully covered, 50% engaged or further." in output
    )
    assert snapshot.as_of == world.as_of


def test_the_command_refuses_an_unknown_cycle_or_time(world):
    with pytest.raises(CommandError, match="no cycle with id 999"):
        call_command("coverage_snapshot", "--cycle", "999", stdout=StringIO())
    with pytest.raises(CommandError, match="not a date and time"):
        call_command(
            "coverage_snapshot",
            "--cycle",
            str(world.cycle.pk),
            "--as-of",
            "yesterday",
            stdout=StringIO(),
        )


def test_ops_take_a_snapshot_from_the_admin(world, client, django_capture_on_commit_callbacks):
    from workflow.services import person_set_role

    ops, _ = person_set_role(username="opal", role="ops")
    client.force_login(ops)
    url = "/admin/coverage/cyclecoverage/"
    assert b"none yet" in client.get(url).content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"action": "take_snapshot", "_selected_action": [world.cycle.pk]}, follow=True
        )
    assert b"FY27 H1: the snapshot is being taken." in response.content
    assert done(world.cycle).count() == 1
    assert b"none yet" not in client.get(url).content


def test_people_on_a_side_cannot_ask_for_a_snapshot(world, people):
    from core.errors import NotAllowed
    from coverage.services import snapshot_request

    with pytest.raises(NotAllowed, match="Only revenue operations"):
        snapshot_request(cycle=world.cycle, by=people.marketer)
