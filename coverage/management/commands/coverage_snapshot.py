"""`python manage.py coverage_snapshot --cycle ID [--as-of ISO-TIME]`: take a cycle's coverage
snapshot now, in this process, with a progress bar. It replaces one taken earlier the same day."""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.progress import progress_bar
from coverage import services
from workflow.models import Cycle


class Command(BaseCommand):
    help = "Take a cycle's coverage snapshot now, with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("--cycle", type=int, required=True, help="The cycle's id.")
        parser.add_argument(
            "--as-of",
            help="Compute as of this instant (ISO 8601, e.g. 2027-03-01T00:00:00Z); default now.",
        )
        parser.add_argument("--no-progress", action="store_true", help="Only the summary.")

    def handle(self, *args, cycle, as_of=None, no_progress=False, **options):
        target = Cycle.objects.filter(pk=cycle).first()
        if target is None:
            raise CommandError(f"There is no cycle with id {cycle}.")
        when = None
        if as_of:
            when = parse_datetime(as_of)
            if when is None:
                raise CommandError(f"“{as_of}” is not a date and time (ISO 8601).")
            if timezone.is_naive(when):
                when = timezone.make_aware(when)
        bar = None if no_progress else progress_bar(self.stdout, unit="account")

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        self.stdout.write(f"Taking the coverage snapshot of {target.name} …")
        try:
            snapshot = services.snapshot_take(
                cycle=target, as_of=when, progress=progress if bar is not None else None
            )
        finally:
            if bar is not None:
                bar.close()
                self.stdout.write("")
        totals = snapshot.aggregates["cycle"]
        self.stdout.write(
            f"Snapshot #{snapshot.pk} of {target.name} for {snapshot.taken_on:%Y-%m-%d} "
            f"(definitions v{snapshot.definitions_version.number}): {totals['accounts']} "
            f"accounts, {totals['fully_covered_share'] or 0:.0%} fully covered, "
            f"{totals['engaged_or_further_share'] or 0:.0%} engaged or further."
        )
