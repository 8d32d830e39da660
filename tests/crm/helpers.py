"""Builders for the CRM sync tests."""

from django.utils import timezone

from accounts_app.models import Account
from crm import outbox
from tests.factories import AccountFactory
from tests.workflow.helpers import put_on_list
from workflow.models import TargetAccount

TOKEN = "crm-test-token"
KEY_PROPERTY = "accord_account_key"


def bulk_list(people, cycle, count: int, *, tier: int = 1, prefix: str = "bulk") -> list[Account]:
    """`count` accounts on the cycle's list, fast: the first is agreed through the workflow
    (and queued by it), the others share its nomination and are queued with the whole cycle.
    Call `outbox.record_cycle` or push the cycle afterwards."""
    first = AccountFactory(name=f"{prefix} 0", domain=f"{prefix}0.example")
    target = put_on_list(people, cycle, first, tier=tier)
    accounts = Account.objects.bulk_create(
        [
            Account(name=f"{prefix} {i}", domain=f"{prefix}{i}.example", industry="Software")
            for i in range(1, count)
        ]
    )
    now = timezone.now()
    TargetAccount.objects.bulk_create(
        [
            TargetAccount(
                cycle=cycle,
                account=account,
                tier=tier,
                nomination=target.nomination,
                last_nomination=target.nomination,
                added_at=now,
                updated_at=now,
            )
            for account in accounts
        ]
    )
    return [first, *accounts]


def queue_cycle(cycle) -> int:
    return outbox.record_cycle(cycle_id=cycle.pk)


def companies(sandbox) -> list[dict]:
    return sandbox.objects("companies")["results"]


def companies_by_key(sandbox) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for company in companies(sandbox):
        key = company["properties"].get(KEY_PROPERTY)
        if key:
            assert key not in found, f"two companies carry the key {key}"
            found[key] = company["properties"]
    return found


def write_requests(sandbox) -> int:
    return sandbox.counters()["write_requests"]
