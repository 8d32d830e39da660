"""Celery is configured for reliability, and the sweeper's schedule is a row ops can edit."""

import pytest
from django.conf import settings

from config.celery import app


def test_tasks_are_acknowledged_late_and_given_back_when_a_worker_dies():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_soft_time_limit < conf.task_time_limit
    # Redis hands an unacknowledged task to another worker only after the longest task.
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_a_push_task_ends_within_its_time_limit_and_a_batch_within_its_lease():
    # A task starts no batch after its budget; a batch gives up retrying after its maximum.
    longest_task = settings.CRM_PUSH_TIME_BUDGET_SECONDS + settings.CRM_BATCH_MAX_SECONDS
    assert longest_task < settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert settings.CRM_BATCH_MAX_SECONDS + 60 < settings.CRM_OUTBOX_LEASE_SECONDS


@pytest.mark.django_db
def test_the_sweeper_runs_every_minute_from_an_editable_schedule_row():
    from django_celery_beat.models import PeriodicTask

    sweeper = PeriodicTask.objects.get(task="crm.tasks.sweep_outbox")

    assert sweeper.enabled
    assert (sweeper.interval.every, sweeper.interval.period) == (60, "seconds")
    # Not in CELERY_BEAT_SCHEDULE: beat would overwrite an edited row at every start.
    assert all(
        entry["task"] != "crm.tasks.sweep_outbox"
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
    )


def test_the_procfile_starts_web_worker_and_beat():
    from pathlib import Path

    lines = dict(
        line.split(":", 1) for line in Path(settings.BASE_DIR, "Procfile").read_text().splitlines()
    )

    assert "gunicorn config.wsgi" in lines["web"]
    assert "celery -A config worker" in lines["worker"]
    assert "celery -A config beat" in lines["beat"]
    assert "DatabaseScheduler" in lines["beat"]
