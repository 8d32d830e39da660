"""Only submitted, undecided nominations (in review, changes requested) count as an account's
open nomination; a draft blocks nobody. The new index covers a subset of the rows the old one
did, so every existing row stays valid: nothing is rewritten."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('workflow', '0005_cycle_settings_events'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='nomination',
            name='nomination_one_open_per_cycle_account',
        ),
        migrations.AddConstraint(
            model_name='nomination',
            constraint=models.UniqueConstraint(
                condition=models.Q(('state__in', ['in_review', 'changes_requested'])),
                fields=('cycle', 'account'),
                name='nomination_one_submitted_open_per_cycle_account',
                violation_error_message='This account has an open nomination in this cycle.',
            ),
        ),
    ]
