"""Each row's place in its snapshot (by tier, account name, entry), so that lists page through
an index. Snapshots taken before have no positions: they are dropped (a snapshot is recomputed
from the data by the next nightly run or `manage.py coverage_snapshot`)."""

from django.db import migrations, models


def drop_snapshots(apps, schema_editor):
    apps.get_model("coverage", "Snapshot").objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("coverage", "0004_cycle_coverage")]

    operations = [
        migrations.RunPython(drop_snapshots, migrations.RunPython.noop),
        migrations.AddField(
            model_name="accountcoverage",
            name="position",
            field=models.PositiveIntegerField(
                default=0,
                help_text="The row's place in the snapshot, by tier, account name and entry: "
                "lists page through an index instead of sorting every row.",
            ),
            preserve_default=False,
        ),
        migrations.AlterModelOptions(
            name="accountcoverage",
            options={
                "ordering": ["snapshot", "position"],
                "verbose_name": "account coverage",
                "verbose_name_plural": "account coverage",
            },
        ),
        migrations.AddConstraint(
            model_name="accountcoverage",
            constraint=models.UniqueConstraint(
                fields=("snapshot", "position"), name="account_coverage_unique_position"
            ),
        ),
    ]
