"""Seed the incremental pull's schedule as a django-celery-beat row (every 15 minutes), so ops
can change or pause it in the admin (Periodic tasks) and a restart of beat keeps their change."""

from django.db import migrations
from django.utils import timezone

NAME = "crm: pull from the CRM"
TASK = "crm.tasks.pull_scheduled"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    every_15_minutes, _ = IntervalSchedule.objects.get_or_create(every=900, period="seconds")
    PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        interval=every_15_minutes,
        description="Read companies, contacts, deals and sales activities changed in the CRM "
        "since the last pull (CRM_BACKEND hubspot or salesforce); also forget old webhook "
        "event ids.",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0005_pull_cursors_and_webhook_events"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
