"""Same data and same definitions version: the same numbers. A second snapshot of the same day
replaces the first, at once."""

from coverage.models import AccountCoverage, Snapshot, SnapshotState
from coverage.services import snapshot_take

FIELDS = [
    f.name
    for f in AccountCoverage._meta.get_fields()
    if f.concrete and f.name not in ("id", "snapshot")
]


def rows(snapshot):
    return list(
        AccountCoverage.objects.filter(snapshot=snapshot).order_by("target_id").values(*FIELDS)
    )


def test_the_same_data_and_version_give_identical_rows_and_aggregates(world):
    first = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    first_rows, first_aggregates, first_alignment = rows(first), first.aggregates, first.alignment
    again = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    assert again.pk != first.pk
    assert rows(again) == first_rows
    assert again.aggregates == first_aggregates
    assert again.alignment == first_alignment
    assert again.definitions_version_id == first.definitions_version_id
    assert again.settings == first.settings


def test_a_second_snapshot_of_the_day_replaces_the_first(world):
    first = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    second = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    done = Snapshot.objects.filter(cycle=world.cycle, state=SnapshotState.DONE)
    assert list(done.values_list("pk", flat=True)) == [second.pk]
    assert not AccountCoverage.objects.filter(snapshot_id=first.pk).exists()
    assert second.done == second.total == 6


def test_it_records_the_definitions_version_and_a_copy_of_its_settings(world):
    snapshot = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    assert snapshot.definitions_version.number == 1
    assert snapshot.settings == {
        "engagement_window_days": 30,
        "touch_windows_days": [30, 90],
        "follow_up_days": 14,
        "engaged_stage_min_contacts": 2,
        "gone_cold_days": [31, 90],
    }
    assert snapshot.as_of == world.as_of
    assert snapshot.taken_on == world.as_of.date()
