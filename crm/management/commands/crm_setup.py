"""`python manage.py crm_setup`: prepare the CRM named by CRM_BACKEND for Accord.

HubSpot: creates the custom company property holding Accord's account key
(HUBSPOT_ACCOUNT_KEY_PROPERTY, unique values) if it is missing. Salesforce: checks the client
credentials and lists the custom fields the org needs. Safe to run again.
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from crm.adapters import CrmError, backend_name, get_adapter


class Command(BaseCommand):
    help = "Create what Accord needs in the CRM (HubSpot: the account key property)."

    def handle(self, *args, **options):
        try:
            backend = backend_name()
            if backend == "none":
                self.stdout.write("CRM_BACKEND is none: sync is off, nothing to set up.")
                return
            adapter = get_adapter(backend)
            try:
                getattr(self, f"setup_{backend}")(adapter)
            finally:
                adapter.close()
        except CrmError as error:
            raise CommandError(error.message) from None

    def setup_hubspot(self, adapter):
        created = adapter.ensure_properties()
        name = settings.HUBSPOT_ACCOUNT_KEY_PROPERTY
        if created:
            self.stdout.write(f"Created the company property {name} (unique values).")
        else:
            self.stdout.write(f"The company property {name} is there, with unique values.")

    def setup_salesforce(self, adapter):
        adapter.authenticate()
        self.stdout.write(f"Signed in to Salesforce ({adapter.instance_url}).")
        self.stdout.write(
            "The Account object needs these custom fields (Setup → Object Manager → Account → "
            "Fields & Relationships):\n"
            f"  {settings.SALESFORCE_EXTERNAL_ID_FIELD}: Text(36), External ID, Unique\n"
            f"  {settings.SALESFORCE_TARGET_FIELD}: Checkbox\n"
            f"  {settings.SALESFORCE_TIER_FIELD}: Picklist (Tier 1, Tier 2, Tier 3)"
        )

    def setup_webhook(self, adapter):
        self.stdout.write(
            f"Webhook deliveries go to {settings.CRM_WEBHOOK_URL}, signed with "
            "CRM_WEBHOOK_SECRET (see docs/crm.md for how the receiver verifies them)."
        )
