"""Seed the outbox sweeper's schedule as a django-celery-beat row (every minute), so ops can
change or pause it in the admin (Periodic tasks) and a restart of beat keeps their change."""

from django.db import migrations
from django.utils import timezone

NAME = "crm: sweep the outbox"
TASK = "crm.tasks.sweep_outbox"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    every_minute, _ = IntervalSchedule.objects.get_or_create(every=60, period="seconds")
    PeriodicTask.objects.create(
        name=NAME,
        task=TASK,
        interval=every_minute,
        description="Push outbox entries still pending a minute after their change, retry those "
        "due again, and take over entries whose worker died (expired lease).",
    )
    # Tell a running beat that the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0002_one_open_entry_per_account"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
