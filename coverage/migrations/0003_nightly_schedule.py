"""Seed the nightly snapshot of every active cycle as a django-celery-beat row (02:30 in the
site's time zone), so ops can change or pause it in the admin (Periodic tasks) and a restart
of beat keeps their change."""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "coverage: nightly snapshot of active cycles"
TASK = "coverage.tasks.snapshot_active_cycles"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    nightly, _ = CrontabSchedule.objects.get_or_create(
        minute="30",
        hour="2",
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )
    PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        crontab=nightly,
        description="Take today's coverage snapshot of every active cycle (it replaces one "
        "taken earlier the same day, e.g. after a pull).",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("coverage", "0002_definitions_v1"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
