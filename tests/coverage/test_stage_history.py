"""Time in stage across a cycle's daily snapshots: stage_since carried while the stage holds
and reset when it changes, median days in each stage, the share that moved on, the trend.

    day 1        day 2             day 3
    X targeted   X targeted        X aware (a touch)
    Y targeted   Y targeted        Y targeted
    Z aware      Z opportunity     Z opportunity
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from coverage.models import AccountCoverage
from coverage.services import snapshot_take
from tests.coverage.helpers import DAY, opportunity, touch
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list


@pytest.fixture
def history(people, the_cycle):
    x, y, z = (AccountFactory(name=name) for name in "XYZ")
    for account in (x, y, z):
        put_on_list(people, the_cycle, account)
    day1 = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    day2, day3 = day1 + DAY, day1 + 2 * DAY
    touch(z, "marketing", day1 - DAY)
    first = snapshot_take(cycle=the_cycle, as_of=day1)
    opportunity(z, "open", 1_000)
    second = snapshot_take(cycle=the_cycle, as_of=day2)
    touch(x, "sales", day3 - DAY)
    third = snapshot_take(cycle=the_cycle, as_of=day3)
    return {"snapshots": (first, second, third), "days": (day1, day2, day3)}


def stages(snapshot):
    return {
        row.account.name: (row.stage, row.stage_since)
        for row in AccountCoverage.objects.filter(snapshot=snapshot).select_related("account")
    }


def test_stage_since_is_carried_while_the_stage_holds_and_reset_when_it_changes(history):
    _, second, third = history["snapshots"]
    d1, d2, d3 = (day.date() for day in history["days"])
    assert stages(second) == {
        "X": ("targeted", d1),
        "Y": ("targeted", d1),
        "Z": ("opportunity", d2),
    }
    assert stages(third) == {
        "X": ("aware", d3),
        "Y": ("targeted", d1),
        "Z": ("opportunity", d2),
    }


def test_it_gives_the_median_days_of_the_stays_in_each_stage(history):
    # Stays: X targeted d1→d3 (2 days), X aware d3→ (0), Y targeted d1→ (2),
    # Z aware d1→d2 (1), Z opportunity d2→d3 (1).
    third = history["snapshots"][2]
    assert third.aggregates["stages"]["median_days"] == {
        "targeted": 2.0,
        "aware": 0.5,
        "engaged": None,
        "opportunity": 1.0,
        "customer": None,
    }


def test_it_gives_the_share_that_moved_on_to_a_later_stage(history):
    first, _, third = history["snapshots"]
    assert first.aggregates["stages"]["moved_on_share"] == 0.0
    assert third.aggregates["stages"]["moved_on_share"] == pytest.approx(0.6667)  # X and Z


def test_it_compares_with_the_previous_and_the_first_snapshot(history):
    first, second, third = history["snapshots"]
    trend = third.aggregates["trend"]
    assert trend["previous"]["snapshot"] == second.pk
    assert trend["first"]["snapshot"] == first.pk
    assert trend["previous"]["change"]["engaged_or_further_share"] == 0.0
    assert trend["first"]["change"]["engaged_or_further_share"] == pytest.approx(0.3333)  # Z
    assert trend["first"]["change"]["open_pipeline"] == "1000.00"
    assert trend["previous"]["change"]["open_pipeline"] == "0.00"
    assert second.aggregates["trend"]["previous"]["snapshot"] == first.pk


def later_snapshots(history, the_cycle, days):
    """Snapshots on the days after day 3 (1 = day 4), with nothing changed but the clock."""
    day3 = history["days"][2]
    return [snapshot_take(cycle=the_cycle, as_of=day3 + n * DAY) for n in days]


def test_a_stay_of_an_account_that_left_the_list_lasts_until_it_was_last_seen(history, the_cycle):
    # Y leaves after day 3 and is back on day 6: its first stay (targeted, d1) was last seen
    # on d3, 2 days, whatever the gap; its new stay starts on d6.
    entry = the_cycle.targets.get(account__name="Y")
    entry.removed_at = history["days"][2] + DAY / 2
    entry.save(update_fields=["removed_at"])
    later_snapshots(history, the_cycle, [1, 2])
    entry.added_at, entry.removed_at = history["days"][2] + 2 * DAY + DAY / 2, None
    entry.save(update_fields=["added_at", "removed_at"])
    (sixth,) = later_snapshots(history, the_cycle, [3])
    d3 = history["days"][2].date()
    assert stages(sixth)["Y"] == ("targeted", d3 + 3 * DAY)
    # Targeted: X d1→d3 (2), Y d1→d3 (2, left), Y d6→ (0). Aware: X d3→ (3); Z aware (1).
    assert sixth.aggregates["stays_ended"]["targeted"] == [[2, 2]]
    assert sixth.aggregates["stages"]["median_days"]["targeted"] == 2.0
    assert sixth.aggregates["stages"]["median_days"]["aware"] == 2.0  # 1 and 3
    assert sixth.aggregates["stages"]["median_days"]["opportunity"] == 4.0  # Z d2→d6


def test_each_snapshot_reads_one_snapshot_back_however_long_the_history(history, the_cycle):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_of_next(n):
        with CaptureQueriesContext(connection) as captured:
            later_snapshots(history, the_cycle, [n])
        return len(captured.captured_queries)

    after_three = queries_of_next(1)
    later_snapshots(history, the_cycle, [2, 3, 4, 5])
    assert queries_of_next(6) == after_three


def test_stays_of_snapshots_stored_before_are_replayed_to_the_same_numbers(history, the_cycle):
    from coverage.models import Snapshot

    (fourth,) = later_snapshots(history, the_cycle, [1])
    stored = fourth.aggregates
    # As if taken before the stays were stored with each snapshot.
    for snapshot in Snapshot.objects.filter(cycle=the_cycle):
        snapshot.aggregates.pop("stays_ended")
        snapshot.save(update_fields=["aggregates"])
    (fifth,) = later_snapshots(history, the_cycle, [2])
    assert fifth.aggregates["stays_ended"] == stored["stays_ended"]  # nothing ended on day 5
    assert fifth.aggregates["stays_ended"] == {"aware": [[1, 1]], "targeted": [[2, 1]]}
    assert fifth.aggregates["stages"]["median_days"] == {
        "targeted": 3.0,  # X d1→d3 (2), Y d1→ (4)
        "aware": 1.5,  # Z d1→d2 (1), X d3→ (2)
        "engaged": None,
        "opportunity": 3.0,  # Z d2→
        "customer": None,
    }
