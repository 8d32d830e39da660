"""Make the audit trail append-only in PostgreSQL itself, and create the three groups."""

from django.db import migrations

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION workflow_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'workflow_nominationevent is append-only: %% refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER workflow_nominationevent_append_only
    BEFORE UPDATE OR DELETE ON workflow_nominationevent
    FOR EACH ROW EXECUTE FUNCTION workflow_event_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS workflow_nominationevent_append_only ON workflow_nominationevent;
DROP FUNCTION IF EXISTS workflow_event_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


def create_groups(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name in ("marketing", "sales", "ops"):
        Group.objects.get_or_create(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("workflow", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
