"""`python manage.py crm_sandbox --kind hubspot|salesforce --port N`: a local CRM to sync with."""

from django.core.management.base import BaseCommand

from crm.sandbox.cli import add_arguments, serve


class Command(BaseCommand):
    help = (
        "Run a HubSpot- or Salesforce-compatible CRM sandbox on loopback (in memory; stops with "
        "Ctrl-C). See docs/crm-sandbox.md."
    )

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        from argparse import Namespace

        serve(Namespace(**options), out=self.stdout)
