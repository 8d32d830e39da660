"""Create or update a person and give them their side (or ops) and approval.

    python manage.py accord_user maya --side marketing --approver --email maya@example.com
    python manage.py accord_user olivia --side ops --password '…' --token

The rules are workflow.services.person_set_role's, shared with the user admin. `--token` makes
a new API token and prints it, once: only its digest is kept, so it cannot be shown again.
The person's earlier tokens keep working until they expire or ops revoke them in the admin.
(The command lives in api, which owns the tokens and may use workflow; not the other way.)
"""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from api.services import api_token_issue
from core.errors import DomainError
from workflow.services import person_set_role


class Command(BaseCommand):
    help = (
        "Create or update a person: put them on the marketing or sales side or in revenue "
        "operations (ops), make them an approver or not, set their e-mail and password, and "
        "optionally make them a REST API token and print it once."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--side",
            required=True,
            choices=["marketing", "sales", "ops"],
            help="The person's side, or ops for revenue operations (admin access).",
        )
        parser.add_argument(
            "--approver",
            action="store_true",
            help="May sign off for their side. Without it, the permission is removed.",
        )
        parser.add_argument("--password", help="Set this password.")
        parser.add_argument("--email", help="Set this e-mail address.")
        parser.add_argument(
            "--token",
            action="store_true",
            help="Make a new REST API token and print it (once: it is not kept).",
        )

    def handle(self, *args, username, side, approver, password, email, token, **options):
        try:
            user, created = person_set_role(
                username=username, role=side, approver=approver, email=email, password=password
            )
            key = api_token_issue(user=user) if token else None
        except DomainError as error:
            raise CommandError(error.message) from None

        role = "revenue operations (admin access)" if side == "ops" else f"the {side} side"
        approval = "" if side == "ops" else (", approver" if approver else ", not an approver")
        self.stdout.write(
            f"{'Created' if created else 'Updated'} {user.username}: {role}{approval}."
        )
        if created and password is None:
            self.stdout.write(
                "No password set: they cannot sign in until you run this again with --password."
            )
        if key:
            lifetime = (
                f"it expires in {settings.API_TOKEN_TTL_DAYS} days"
                if settings.API_TOKEN_TTL_DAYS > 0
                else "it works until it is revoked"
            )
            # The key comes last, alone on its line, for scripts that read it.
            self.stdout.write(f"A new API token; copy it now, it is not shown again ({lifetime}).")
            self.stdout.write(f"API token: {key}")
