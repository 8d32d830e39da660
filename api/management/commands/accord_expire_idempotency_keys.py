from django.core.management.base import BaseCommand

from api.services import idempotency_keys_expire


class Command(BaseCommand):
    help = (
        "Delete API idempotency keys older than API_IDEMPOTENCY_TTL_HOURS "
        "(Celery beat does it hourly)."
    )

    def handle(self, *args, **options):
        self.stdout.write(f"Deleted {idempotency_keys_expire()} expired idempotency key(s).")
