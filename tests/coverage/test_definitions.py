"""The definitions' settings: one effective version (seeded as v1), validated, and used by
every snapshot."""

import pytest
from django.db import IntegrityError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import Invalid
from coverage.definitions import (
    DEFAULTS,
    coverage_of,
    coverage_table,
    settings_validate,
    stage_of,
    stage_sql,
)
from coverage.models import AccountCoverage, DefinitionsState, DefinitionsVersion
from coverage.selectors import definitions_effective
from coverage.services import snapshot_take


def test_version_1_is_effective_with_the_defaults(db):
    version = definitions_effective()
    assert version.number == 1
    assert version.settings == DEFAULTS
    assert version.effective_at is not None


def test_the_database_refuses_a_second_effective_version(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        DefinitionsVersion.objects.create(
            number=2, settings=DEFAULTS, state=DefinitionsState.EFFECTIVE
        )


def test_it_accepts_the_defaults_and_returns_a_clean_copy(db):
    assert settings_validate(dict(DEFAULTS)) == DEFAULTS


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"engagement_window_days": 0}, "engagement_window_days"),
        ({"engagement_window_days": "30"}, "engagement_window_days"),
        ({"engagement_window_days": True}, "engagement_window_days"),
        ({"follow_up_days": 400}, "follow_up_days"),
        ({"touch_windows_days": [90, 30]}, "touch_windows_days"),
        ({"touch_windows_days": [30]}, "touch_windows_days"),
        ({"gone_cold_days": [31, 31]}, "gone_cold_days"),
        ({"engaged_stage_min_contacts": 0}, "engaged_stage_min_contacts"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_it_refuses_settings_that_are_not_valid(db, change, field):
    with pytest.raises(Invalid) as refused:
        settings_validate({**DEFAULTS, **change})
    assert refused.value.field == field


def test_it_refuses_settings_with_one_missing(db):
    settings = dict(DEFAULTS)
    del settings["follow_up_days"]
    with pytest.raises(Invalid, match="Missing settings: follow_up_days"):
        settings_validate(settings)


def test_a_snapshot_uses_the_effective_versions_settings(world):
    DefinitionsVersion.objects.filter(number=1).update(state=DefinitionsState.SUPERSEDED)
    DefinitionsVersion.objects.create(
        number=2,
        settings={**DEFAULTS, "touch_windows_days": [7, 90], "engaged_stage_min_contacts": 3},
        state=DefinitionsState.EFFECTIVE,
    )
    snapshot = snapshot_take(cycle=world.cycle, as_of=world.as_of)
    rows = {r.account.name: r for r in AccountCoverage.objects.filter(snapshot=snapshot)}
    assert snapshot.definitions_version.number == 2
    assert snapshot.settings["touch_windows_days"] == [7, 90]
    # Acme's touches 3 and 5 days ago are within 7 days; its call 10 days ago is not.
    assert (rows["Acme"].marketing_touches_30d, rows["Acme"].sales_touches_30d) == (1, 1)
    # Echo's two engaged contacts are no longer enough, and its touches are older than 7 days.
    assert rows["Echo"].stage == "aware"


# --- The rules' two forms: the snapshot's SQL says what the Python says ----------------------


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    counts=st.tuples(*[st.integers(min_value=0, max_value=3)] * 6),
    engaged_min=st.integers(min_value=1, max_value=3),
)
def test_the_stage_in_sql_is_stage_of(db, counts, engaged_min):
    won, open_, engaged, marketing, sales, long = counts
    expression = stage_sql(
        won="%s",
        open_opportunities="%s",
        engaged_contacts="%s",
        marketing_short="%s",
        sales_short="%s",
        touches_long="%s",
    )
    # stage_sql's own parameter (engaged_min_contacts) follows the engaged contacts.
    params = [won, open_, engaged, engaged_min, marketing, sales, long]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {expression}", params)
        (in_sql,) = cursor.fetchone()
    assert in_sql == stage_of(
        won=won,
        open_opportunities=open_,
        engaged_contacts=engaged,
        marketing_short=marketing,
        sales_short=sales,
        touches_long=long,
        engaged_min_contacts=engaged_min,
    )


def test_the_coverage_table_holds_coverage_of_for_every_set_of_roles():
    required = {1: ["decision_maker", "champion"], 2: ["champion"], 3: []}
    wanted = ["champion", "decision_maker"]
    table = {(tier, mask): rest for tier, mask, *rest in coverage_table(required, wanted)}
    assert set(table) == {(1, 0), (1, 1), (1, 2), (1, 3), (2, 0), (2, 1), (3, 0)}
    # Tier 1 holding only the champion (bit 0 of `wanted`).
    assert table[(1, 1)] == [
        ["decision_maker", "champion"],
        ["champion"],
        ["decision_maker"],
        0.5,
        0.5,
    ]
    assert table[(1, 3)] == [
        ["decision_maker", "champion"],
        ["decision_maker", "champion"],
        [],
        1.0,
        1.0,
    ]
    # A tier requiring nothing is covered by any contact, and only by one.
    assert table[(3, 0)] == [[], [], [], 1.0, 0.0]
    for (_tier, mask), (roles, covered, missing, with_contacts, without) in table.items():
        held = {role for index, role in enumerate(wanted) if mask >> index & 1}
        assert (covered, missing, with_contacts) == coverage_of(roles, held, 1)
        assert without == coverage_of(roles, held, 0)[2]
