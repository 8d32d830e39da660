"""Seed definitions version 1, effective, with the default settings (coverage.definitions
DEFAULTS as they were when this was written: a migration keeps its own copy)."""

from django.db import migrations
from django.utils import timezone

V1 = {
    "engagement_window_days": 30,
    "touch_windows_days": [30, 90],
    "follow_up_days": 14,
    "engaged_stage_min_contacts": 2,
    "gone_cold_days": [31, 90],
}


def seed(apps, schema_editor):
    DefinitionsVersion = apps.get_model("coverage", "DefinitionsVersion")
    if DefinitionsVersion.objects.filter(number=1).exists():
        return
    DefinitionsVersion.objects.create(
        number=1, settings=V1, state="effective", effective_at=timezone.now()
    )


def unseed(apps, schema_editor):
    DefinitionsVersion = apps.get_model("coverage", "DefinitionsVersion")
    DefinitionsVersion.objects.filter(number=1, snapshots__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("coverage", "0001_initial")]

    operations = [migrations.RunPython(seed, unseed)]
