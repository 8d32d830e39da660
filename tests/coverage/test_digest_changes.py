"""What changed since last week: the latest snapshot against the latest one taken at least
seven days before it, on a hand-built pair of snapshots."""

import pytest

from coverage.digest import snapshot_changes, snapshot_week_before
from tests.coverage.digest import hand_snapshot


@pytest.fixture
def pair(world):
    cycle = world.cycle
    hand_snapshot(cycle, 12, {"Acme": {}, "Bravo": {}})  # older than the one compared with
    earlier = hand_snapshot(
        cycle,
        8,
        {
            "Acme": {"stage": "aware", "gaps": ["missing_role"]},
            "Bravo": {"stage": "engaged"},
            "Charlie": {"stage": "targeted", "gaps": ["gone_cold", "single_threaded"]},
            "Delta": {"stage": "targeted"},
        },
    )
    hand_snapshot(cycle, 3, {"Acme": {}})  # less than a week before the latest: skipped
    latest = hand_snapshot(
        cycle,
        0,
        {
            "Acme": {"stage": "engaged"},
            "Bravo": {"stage": "aware", "gaps": ["single_threaded"]},
            "Charlie": {"stage": "targeted", "gaps": ["gone_cold"]},
            "Echo": {"stage": "targeted", "gaps": ["missing_role"]},
            "Foxtrot": {"stage": "customer"},
        },
    )
    return earlier, latest


def test_the_snapshot_compared_with_is_the_latest_one_a_week_older(pair):
    earlier, latest = pair
    assert snapshot_week_before(latest) == earlier


def test_accounts_added_and_removed(pair):
    earlier, latest = pair
    changes = snapshot_changes(latest=latest, earlier=earlier)
    assert (changes.added, changes.added_names) == (2, ["Echo", "Foxtrot"])
    assert (changes.removed, changes.removed_names) == (1, ["Delta"])
    assert changes.since == earlier.taken_on


def test_gaps_opened_and_closed_on_accounts_on_the_list_both_times(pair):
    earlier, latest = pair
    changes = snapshot_changes(latest=latest, earlier=earlier)
    # Echo arrived with a missing role: it counts as added, not as a gap opened.
    assert {k: v for k, v in changes.gaps_opened.items() if v} == {"single_threaded": 1}
    assert {k: v for k, v in changes.gaps_closed.items() if v} == {
        "missing_role": 1,
        "single_threaded": 1,
    }
    assert (changes.opened, changes.closed) == (1, 2)


def test_stage_moves_forward_and_back(pair):
    earlier, latest = pair
    changes = snapshot_changes(latest=latest, earlier=earlier)
    assert (changes.moved_forward, changes.moved_back) == (1, 1)
    assert [(m.account, m.before, m.after) for m in changes.moves] == [
        ("Acme", "aware", "engaged"),
        ("Bravo", "engaged", "aware"),
    ]


def test_without_a_snapshot_a_week_older_there_is_nothing_to_compare(world):
    hand_snapshot(world.cycle, 6, {"Acme": {}})
    latest = hand_snapshot(world.cycle, 0, {"Acme": {}})
    assert snapshot_week_before(latest) is None
