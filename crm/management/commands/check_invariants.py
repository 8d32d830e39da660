"""Check the workflow's and the outbox's invariants against the database.

    python manage.py check_invariants [--cycle ID ...]

Prints each violation and exits 1 if there is any; prints the number of nominations, sign-offs
and list entries checked and exits 0 otherwise. Read-only.
"""

from django.core.management.base import BaseCommand, CommandError

from crm import invariants as outbox
from workflow import invariants as workflow
from workflow.models import Cycle, Nomination, SignOff, TargetAccount


class Command(BaseCommand):
    help = "Check the workflow's and the outbox's invariants against the database (read-only)."

    def add_arguments(self, parser):
        parser.add_argument("--cycle", type=int, action="append", help="Only this cycle (repeat).")

    def handle(self, *args, cycle=None, **options):
        cycles = Cycle.objects.order_by("pk")
        if cycle:
            cycles = cycles.filter(pk__in=cycle)
            if cycles.count() != len(set(cycle)):
                raise CommandError(f"No cycle with id {sorted(set(cycle))}.")
        cycles = list(cycles)
        problems = workflow.violations(cycles) + outbox.every_list_change_is_in_the_outbox(cycles)
        for problem in problems:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"{len(problems)} invariant(s) violated.", returncode=1)
        self.stdout.write(
            f"All invariants hold: {Nomination.objects.filter(cycle__in=cycles).count()} "
            f"nominations, {SignOff.objects.filter(nomination__cycle__in=cycles).count()} "
            f"sign-offs, {TargetAccount.objects.filter(cycle__in=cycles).count()} list entries "
            f"in {len(cycles)} cycle(s)."
        )
