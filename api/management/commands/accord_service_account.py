"""Create a read-only integration login for a CRM-side job and print its token.

    python manage.py accord_service_account crm-sync --description "HubSpot nightly sync"
    python manage.py accord_service_account crm-sync --rotate    # a new token, the old one dies
    python manage.py accord_service_account crm-sync --revoke    # no token any more

The token may read accounts, cycles and the agreed list through the API, and nothing else. It is
printed once: only its digest is kept.
"""

from django.core.management.base import BaseCommand, CommandError

from api import services
from api.models import ServiceAccount
from core.errors import DomainError


class Command(BaseCommand):
    help = "Create a read-only integration token (or rotate / revoke it) for a CRM-side job."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--description", default="", help="What the job is, for the admin.")
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--rotate", action="store_true", help="Issue a new token.")
        action.add_argument("--revoke", action="store_true", help="Delete the token.")

    def handle(self, *args, username, description, rotate, revoke, **options):
        try:
            if rotate or revoke:
                service_account = (
                    ServiceAccount.objects.select_related("user")
                    .filter(user__username=username)
                    .first()
                )
                if service_account is None:
                    raise CommandError(f"There is no integration login called {username}.")
                if revoke:
                    services.service_account_revoke(service_account=service_account)
                    self.stdout.write(f"Revoked the token of {username}.")
                    return
                key = services.service_account_token_rotate(service_account=service_account)
            else:
                _, key = services.service_account_create(username=username, description=description)
                self.stdout.write(
                    f"Created {username}: read-only access to accounts, cycles and the agreed list."
                )
        except DomainError as error:
            raise CommandError(error.message) from None
        self.stdout.write("Copy the token now: it is not shown again.")
        self.stdout.write(f"API token: {key}")
