"""The weekly digest's beat row: seeded by a migration on COVERAGE_DIGEST_WEEKDAY (0 = Monday)
at COVERAGE_DIGEST_HOUR, editable in the admin afterwards."""

import importlib

import pytest
from django.apps import apps
from django_celery_beat.models import PeriodicTask

NAME = "coverage: weekly digest"
migration = importlib.import_module("coverage.migrations.0007_weekly_digest_schedule")


def test_a_migration_seeds_the_weekly_row_on_the_configured_day_and_hour(db, settings):
    from config.celery import app

    row = PeriodicTask.objects.get(name=NAME)
    assert row.task == "coverage.tasks.digest_send_weekly"
    assert row.task in app.tasks
    assert row.enabled
    # Celery's crontab counts days from Sunday = 0.
    day = str((settings.COVERAGE_DIGEST_WEEKDAY + 1) % 7)
    assert (row.crontab.minute, row.crontab.hour, row.crontab.day_of_week) == (
        "0",
        str(settings.COVERAGE_DIGEST_HOUR),
        day,
    )
    assert str(row.crontab.timezone) == settings.TIME_ZONE


@pytest.mark.parametrize(("weekday", "cron_day"), [(0, "1"), (4, "5"), (6, "0")])
def test_the_row_follows_the_settings_when_it_is_seeded(db, settings, weekday, cron_day):
    PeriodicTask.objects.filter(name=NAME).delete()
    settings.COVERAGE_DIGEST_WEEKDAY = weekday
    settings.COVERAGE_DIGEST_HOUR = 17

    migration.seed(apps, None)

    row = PeriodicTask.objects.get(name=NAME)
    assert (row.crontab.hour, row.crontab.day_of_week) == ("17", cron_day)


def test_seeding_again_keeps_what_ops_changed(db, settings):
    row = PeriodicTask.objects.get(name=NAME)
    row.enabled = False
    row.save()
    hour = row.crontab.hour
    settings.COVERAGE_DIGEST_HOUR = 23

    migration.seed(apps, None)

    row = PeriodicTask.objects.get(name=NAME)
    assert not row.enabled
    assert row.crontab.hour == hour != "23"


@pytest.mark.parametrize(
    ("name", "value"), [("COVERAGE_DIGEST_WEEKDAY", "7"), ("COVERAGE_DIGEST_HOUR", "24")]
)
def test_a_day_or_hour_out_of_range_refuses_to_start(name, value):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", name: value},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "COVERAGE_DIGEST_WEEKDAY must be 0 (Monday) to 6 (Sunday)" in result.stderr
