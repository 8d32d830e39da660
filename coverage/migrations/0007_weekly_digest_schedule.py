"""Seed the weekly digest's schedule as a django-celery-beat row, on COVERAGE_DIGEST_WEEKDAY
(0 = Monday) at COVERAGE_DIGEST_HOUR in the site's time zone, so ops can change or pause it in
the admin (Periodic tasks) and a restart of beat keeps their change."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "coverage: weekly digest"
TASK = "coverage.tasks.digest_send_weekly"


def cron_day_of_week(weekday: int) -> str:
    # Python and the settings count from Monday = 0; cron (and celery's crontab) from Sunday = 0.
    return str((weekday + 1) % 7)


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    weekly, _ = CrontabSchedule.objects.get_or_create(
        minute="0",
        hour=str(settings.COVERAGE_DIGEST_HOUR),
        day_of_week=cron_day_of_week(settings.COVERAGE_DIGEST_WEEKDAY),
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        crontab=weekly,
        description="E-mail the weekly coverage digest to both sides and ops (one e-mail per "
        "person), and post it to Slack when COVERAGE_DIGEST_SLACK_WEBHOOK_URL is set.",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coverage", "0006_definitions_agreement"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
