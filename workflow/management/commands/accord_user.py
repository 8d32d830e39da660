"""Create or update a person and give them their side (or ops) and approval.

    python manage.py accord_user maya --side marketing --approver --email maya@example.com
    python manage.py accord_user olivia --side ops --password '…' --token

The rules are workflow.services.person_set_role's, shared with the user admin.
"""

from django.core.management.base import BaseCommand, CommandError

from workflow.errors import DomainError
from workflow.services import person_api_token, person_set_role


class Command(BaseCommand):
    help = (
        "Create or update a person: put them on the marketing or sales side or in revenue "
        "operations (ops), make them an approver or not, set their e-mail and password, and "
        "optionally print their REST API token."
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
            "--token", action="store_true", help="Print the person's REST API token."
        )

    def handle(self, *args, username, side, approver, password, email, token, **options):
        try:
            user, created = person_set_role(
                username=username, role=side, approver=approver, email=email, password=password
            )
            key = person_api_token(user=user) if token else None
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
            self.stdout.write(f"API token: {key}")
