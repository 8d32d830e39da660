"""The definitions' settings: one effective version (seeded as v1), validated, and used by
every snapshot."""

import pytest
from django.db import IntegrityError, transaction

from core.errors import Invalid
from coverage.definitions import DEFAULTS, settings_validate
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
