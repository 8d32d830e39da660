"""`python manage.py crm_pull [--full] [--object TYPE ...]`: read what changed in the CRM
(CRM_BACKEND hubspot or salesforce) into Accord now, in this process, with a progress bar.

Without --full it reads what changed since the last pull (and finishes a pull that was cut
short); with --full it reads everything again. The same runs on a schedule (Celery beat,
`crm.tasks.pull_scheduled`).
"""

from django.core.management.base import BaseCommand, CommandError

from crm.adapters import ConfigurationError
from crm.management.commands.crm_push import ProgressBar
from crm.models import SyncState, SyncTrigger
from crm.pull import services


class Command(BaseCommand):
    help = "Read companies, contacts, deals and sales activities from the CRM now."

    def add_arguments(self, parser):
        parser.add_argument(
            "--full", action="store_true", help="Read everything again, not only what changed."
        )
        parser.add_argument(
            "--object",
            dest="objects",
            action="append",
            metavar="TYPE",
            help="Only this object type (repeatable), e.g. contacts, or Contact for Salesforce.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Only the summary.")

    def handle(self, *args, full=False, objects=None, no_progress=False, **options):
        backend = services.pull_backend()
        if backend is None:
            raise CommandError(
                "There is no CRM to pull from: set CRM_BACKEND to hubspot or salesforce."
            )
        bar = None if no_progress else ProgressBar(self.stdout)
        try:
            if objects:
                known = services.reader_types(backend)
                unknown = [o for o in objects if o not in known]
                if unknown:
                    raise CommandError(
                        f"Unknown object type(s) {', '.join(unknown)}; {backend} has "
                        f"{', '.join(known)}."
                    )
            run = services.pull(
                trigger=SyncTrigger.COMMAND, full=full, object_types=objects, progress=bar
            )
        except ConfigurationError as error:
            raise CommandError(error.message) from None
        finally:
            if bar is not None:
                bar.finish()
        skipped = run.detail.get("skipped", 0)
        self.stdout.write(
            f"Run #{run.pk} {run.get_state_display().lower()}: read {run.sent} records "
            f"({run.created} created, {run.updated} updated, {run.unchanged} unchanged, "
            f"{skipped} skipped, {run.failed} failed), {run.requests} requests."
        )
        for object_type, counts in run.detail.get("objects", {}).items():
            self.stdout.write(
                f"  {object_type}: {counts['read']} read, {counts['created']} created, "
                f"{counts['updated']} updated, {counts['skipped']} skipped, "
                f"{counts['failed']} failed"
            )
        if run.detail.get("busy"):
            self.stdout.write(
                f"Another pull is reading {', '.join(run.detail['busy'])}; left to it."
            )
        if run.message:
            self.stdout.write(run.message)
        if run.state == SyncState.FAILED:
            raise CommandError(f"The pull failed: {run.message}")
