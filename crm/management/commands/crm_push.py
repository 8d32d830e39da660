"""`python manage.py crm_push [--cycle ID] [--force]`: push to the CRM now, in this process,
with a progress bar.

Without --cycle it pushes whatever the outbox holds that is due. With --cycle every account that
is or was on that cycle's list is queued first (removals included), so the CRM ends up matching
the list; accounts whose CRM record is already up to date cost no request (unless --force).
"""

from django.core.management.base import BaseCommand, CommandError

from core.progress import progress_bar
from crm import services
from crm.adapters import ConfigurationError
from crm.models import SyncRun, SyncState, SyncTrigger
from workflow.models import Cycle


class ProgressBar:
    """A tqdm bar over a run's done / total (core.progress), with its counts after it."""

    def __init__(self, out):
        self.out = out
        self.bar = progress_bar(out, unit="record")

    def __call__(self, run: SyncRun) -> None:
        self.bar.total = max(run.total, run.done)
        self.bar.set_postfix_str(
            f"sent {run.sent}, created {run.created}, updated {run.updated}, "
            f"unchanged {run.unchanged}, failed {run.failed}",
            refresh=False,
        )
        self.bar.update(run.done - self.bar.n)

    def finish(self) -> None:
        self.bar.close()
        self.out.write("")


class Command(BaseCommand):
    help = "Push target accounts to the CRM now (CRM_BACKEND), with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--cycle", type=int, help="Push this cycle's whole list (its id).")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Send every record even if the CRM already has exactly this.",
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            help="Threads pushing together (default CRM_PUSH_CONCURRENCY).",
        )
        parser.add_argument("--no-progress", action="store_true", help="Only the summary.")

    def handle(
        self, *args, cycle=None, force=False, no_progress=False, concurrency=None, **options
    ):
        threads = services.push_concurrency(concurrency)
        bar = None if no_progress else ProgressBar(self.stdout)
        try:
            if cycle is not None:
                target = Cycle.objects.filter(pk=cycle).first()
                if target is None:
                    raise CommandError(f"There is no cycle with id {cycle}.")
                self.stdout.write(f"Pushing the list of {target.name} …")
                run = services.cycle_push(
                    cycle=target,
                    trigger=SyncTrigger.COMMAND,
                    force=force,
                    progress=bar,
                    concurrency=threads,
                )
            else:
                run = services.outbox_push(
                    trigger=SyncTrigger.COMMAND, force=force, progress=bar, concurrency=threads
                )
        except ConfigurationError as error:
            raise CommandError(error.message) from None
        finally:
            if bar is not None:
                bar.finish()
        if run is None:
            self.stdout.write("Nothing to push: the outbox has nothing due.")
            return
        self.stdout.write(
            f"Run #{run.pk} {run.get_state_display().lower()}: {run.done} records, sent "
            f"{run.sent} ({run.created} created, {run.updated} updated), {run.unchanged} "
            f"unchanged, {run.failed} failed, {run.requests} requests."
        )
        if run.message:
            self.stdout.write(run.message)
        if run.state == SyncState.FAILED:
            raise CommandError(f"The push failed: {run.message}")
