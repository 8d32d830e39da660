"""The import of accounts becomes the import of CSV files of either kind (accounts or
activities): AccountImport is renamed CsvImport, AccountImportProblem CsvImportProblem (its
foreign key `csv_import`), and every import so far was of accounts. The data stays: the tables
are renamed, not copied.

Two rows outside these tables follow the rename, so that nothing goes stale:
- the permissions of the two models (their content types are renamed by Django itself, their
  codenames are not), so the ops group keeps seeing the import history;
- the beat entry of the resume task, stored by django-celery-beat under its old name and task
  (`accounts-resume-imports`, `accounts_app.tasks.resume_account_imports`): left alone, beat
  would keep sending a task that no longer exists every 5 minutes.
"""

from django.db import migrations, models
from django.utils import timezone

OLD_BEAT = ("accounts-resume-imports", "accounts_app.tasks.resume_account_imports")
NEW_BEAT = ("csv-resume-imports", "accounts_app.tasks.resume_csv_imports")
# (model name, its verbose name) before and after
OLD_MODELS = (("accountimport", "account import"), ("accountimportproblem", "account import problem"))
NEW_MODELS = (("csvimport", "CSV import"), ("csvimportproblem", "CSV import problem"))


def _rename_permissions(apps, renames) -> None:
    """Rename each model's four permissions (a fresh database has none yet: they are created
    after the migrations)."""
    Permission = apps.get_model("auth", "Permission")
    mine = Permission.objects.filter(content_type__app_label="accounts_app")
    for (old, _), (new, new_name) in renames:
        for action in ("add", "change", "delete", "view"):
            if mine.filter(codename=f"{action}_{new}").exists():
                mine.filter(codename=f"{action}_{old}").delete()
            else:
                mine.filter(codename=f"{action}_{old}").update(
                    codename=f"{action}_{new}", name=f"Can {action} {new_name}"
                )


def _rename_beat_entry(apps, old, new) -> None:
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=new[0]).exists():
        changed = PeriodicTask.objects.filter(name=old[0]).delete()[0]
    else:
        changed = PeriodicTask.objects.filter(name=old[0]).update(name=new[0], task=new[1])
    if changed:  # beat reads the schedule again
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def forwards(apps, schema_editor):
    _rename_permissions(apps, zip(OLD_MODELS, NEW_MODELS))
    _rename_beat_entry(apps, OLD_BEAT, NEW_BEAT)


def backwards(apps, schema_editor):
    _rename_permissions(apps, zip(NEW_MODELS, OLD_MODELS))
    _rename_beat_entry(apps, NEW_BEAT, OLD_BEAT)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts_app", "0006_account_import"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RenameModel("AccountImport", "CsvImport"),
        migrations.RenameModel("AccountImportProblem", "CsvImportProblem"),
        migrations.RenameField("csvimportproblem", "account_import", "csv_import"),
        # The index's name is derived from the table's.
        migrations.RenameIndex(
            model_name="csvimport",
            old_name="accounts_ap_state_7de2e4_idx",
            new_name="accounts_ap_state_a4c6f5_idx",
        ),
        migrations.AddField(
            model_name="csvimport",
            name="kind",
            field=models.CharField(
                choices=[("accounts", "Accounts"), ("activities", "Activities")],
                default="accounts",
                max_length=10,
            ),
            preserve_default=False,
        ),
        migrations.AlterModelOptions(
            name="csvimport",
            options={"ordering": ["-created_at", "-pk"], "verbose_name": "CSV import"},
        ),
        migrations.AlterModelOptions(
            name="csvimportproblem",
            options={"ordering": ["pk"], "verbose_name": "CSV import problem"},
        ),
        # Activities come from CSV files too, keyed as those from the API.
        migrations.AlterField(
            model_name="activity",
            name="crm_id",
            field=models.CharField(
                blank=True,
                help_text="Where it came from, unique: `<crm>:<object type>:<id>[:…]` from a "
                "pull, `api:<user id>:<external id>` from POST /api/v1/activities/ or a CSV file "
                "of activities (the id of the caller, or of the person who uploaded the file).",
                max_length=150,
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
