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
