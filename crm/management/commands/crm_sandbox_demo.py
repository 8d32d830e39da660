"""`python manage.py crm_sandbox_demo [--push] [--pull]`: fill the local HubSpot sandbox (at
HUBSPOT_BASE_URL) with what a CRM would know about the demo's accounts, after pushing the agreed
lists to it (`--push`), and pull it all into Accord (`--pull`). `python3 dev.py run` does this
at every start: the sandbox is in memory and starts empty.

The records are made by crm.sandbox.demo and loaded through the sandbox's seed hook, which a
real HubSpot does not have: against anything but the sandbox this command stops.
"""

import random

import httpx
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts_app.models import Account
from crm.models import SyncState, SyncTrigger
from crm.pull import services
from crm.sandbox import demo
from workflow.models import TargetAccount

SEED = 20261201


class Command(BaseCommand):
    help = (
        "Fill the HubSpot sandbox with the demo accounts' contacts in buying roles, deals and "
        "engagement of both funnels (the last 120 days); --pull then reads them into Accord."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--push", action="store_true", help="Push the outbox and every agreed list first."
        )
        parser.add_argument("--pull", action="store_true", help="Pull into Accord afterwards.")

    def handle(self, *args, push=False, pull=False, **options):
        client = httpx.Client(base_url=settings.HUBSPOT_BASE_URL.rstrip("/"), timeout=30)
        with client:
            try:
                held = self.hook(client, "GET", "objects/contacts")
            except httpx.HTTPError as error:
                raise CommandError(
                    f"No HubSpot sandbox answers at {settings.HUBSPOT_BASE_URL} ({error})."
                ) from None
            if held["total"]:
                self.stdout.write("The HubSpot sandbox holds contacts already; not seeding it.")
                if push:
                    self.push()
            else:
                # The sandbox has started empty: what Accord linked to in its previous life is
                # gone, and the push would refuse to link new companies to accounts that still
                # name old ones.
                services.pull_links_reset(backend="hubspot")
                if push:
                    self.push()
                self.seed(client)
        if pull:
            run = services.pull(trigger=SyncTrigger.COMMAND, full=True)
            self.stdout.write(
                f"Pulled {run.sent} records from the sandbox ({run.created} created, "
                f"{run.updated} updated) in {run.detail.get('seconds', 0)} s."
            )
            if run.state == SyncState.FAILED:
                raise CommandError(f"The pull failed: {run.message}")

    def push(self) -> None:
        call_command("crm_push", "--no-progress", stdout=self.stdout)  # what the outbox holds
        cycles = TargetAccount.objects.values_list("cycle_id", flat=True).distinct()
        for cycle_id in sorted(set(cycles)):
            call_command(
                "crm_push", "--cycle", str(cycle_id), "--force", "--no-progress", stdout=self.stdout
            )

    @staticmethod
    def hook(client: httpx.Client, method: str, path: str, body=None) -> dict:
        response = client.request(method, f"/__sandbox__/{path}", json=body)
        if response.status_code == 404:
            raise CommandError(
                f"{settings.HUBSPOT_BASE_URL} is not the CRM sandbox (it has no seed hook)."
            )
        if response.status_code != 200:
            raise CommandError(f"The sandbox refused {method} {path}: {response.text[:500]}")
        return response.json()

    def seed(self, client: httpx.Client) -> None:
        rng, now = random.Random(SEED), timezone.now()
        known = {
            str(c["properties"].get("domain") or ""): str(c["id"])
            for c in self.hook(client, "GET", "objects/companies")["results"]
        }
        accounts = [
            demo.DemoAccount(
                name=account.name,
                domain=account.domain,
                company_id=known.get(account.domain),
                contacts=[
                    demo.DemoContact(
                        email=c.email,
                        first_name=c.first_name,
                        last_name=c.last_name,
                        title=c.title,
                        roles=[r.role for r in c.roles.all()],
                    )
                    for c in account.contacts.all()
                    if c.email
                ],
            )
            for account in Account.objects.filter(contacts__isnull=False)
            .distinct()
            .prefetch_related("contacts__roles")
            .order_by("pk")
        ]
        missing = [a for a in accounts if not a.company_id]
        if missing:
            answer = self.hook(client, "POST", "seed", {"companies": demo.companies(accounts)})
            for account, company_id in zip(missing, answer["ids"]["companies"], strict=True):
                account.company_id = company_id
        rows = demo.contacts(accounts, rng=rng, now=now)
        answer = self.hook(client, "POST", "seed", {"contacts": rows})
        emails = [row["properties"]["email"] for row in rows]
        contact_ids = dict(zip(emails, answer["ids"]["contacts"], strict=True))
        objects, links = demo.deals_and_touches(accounts, contact_ids, rng=rng, now=now)
        answer = self.hook(client, "POST", "seed", objects)
        associations = [
            {"from_type": a, "from_id": answer["ids"][a][i], "to_type": b, "to_id": to_id}
            for a, i, b, to_id in links
            if to_id
        ]
        associations += [
            {
                "from_type": "contacts",
                "from_id": contact_ids[c.email],
                "to_type": "companies",
                "to_id": account.company_id,
            }
            for account in accounts
            for c in account.contacts
            if c.email in contact_ids
        ]
        self.hook(client, "POST", "seed", {"associations": associations})
        counts = {name: len(items) for name, items in objects.items()}
        self.stdout.write(
            f"HubSpot sandbox: {len(missing)} companies, {len(rows)} contacts, "
            f"{counts['deals']} deals, {counts['calls']} calls, {counts['meetings']} meetings, "
            f"{counts['emails']} e-mails added."
        )
