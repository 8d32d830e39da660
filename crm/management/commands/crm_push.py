"""`python manage.py crm_push [--cycle ID] [--force]`: push to the CRM now, in this process,
with a progress bar.

Without --cycle it pushes whatever the outbox holds that is due. With --cycle every account that
is or was on that cycle's list is queued first (removals included), so the CRM ends up matching
the list; accounts whose CRM record is already up to date cost no request (unless --force).
"""

import time

from django.core.management.base import BaseCommand, CommandError

from crm import services
from crm.adapters import ConfigurationError
from crm.models import SyncRun, SyncState, SyncTrigger
from workflow.models import Cycle

BAR_WIDTH = 30


class ProgressBar:
    """One line redrawn in place on a terminal; a line every 10% elsewhere (logs, CI)."""

    def __init__(self, out, *, interactive: bool):
        self.out = out
        self.interactive = interactive
        self.last_tenth = -1
        self.started = time.monotonic()

    def __call__(self, run: SyncRun) -> None:
        total = max(run.total, run.done, 1)
        share = run.done / total
        filled = round(BAR_WIDTH * share)
        elapsed = time.monotonic() - self.started
        rate = run.done / elapsed if elapsed > 0 else 0.0
        line = (
            f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {run.done}/{run.total} "
            f"{share:4.0%}  sent {run.sent}  created {run.created}  updated {run.updated}  "
            f"unchanged {run.unchanged}  failed {run.failed}  {rate:,.0f}/s"
        )
        if self.interactive:
            self.out.write("\r" + line, ending="")
            self.out.flush()
        elif int(share * 10) > self.last_tenth:
            self.last_tenth = int(share * 10)
            self.out.write(line)

    def finish(self) -> None:
        if self.interactive:
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
        bar = None if no_progress else ProgressBar(self.stdout, interactive=self.stdout.isatty())
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
