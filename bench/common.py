"""What the benchmark scripts share: the machine line of the results, and an agreed list
written in bulk (the workflow's services are measured by the tests, not here)."""

import os
import platform
from pathlib import Path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def put_on_list(*, cycle, accounts, marketer, seller, batch_size: int) -> None:
    """Approved add nominations and their target rows for `accounts`, tiers 1–3 in turn."""
    from django.utils import timezone

    from workflow.models import Nomination, TargetAccount

    nominations = Nomination.objects.bulk_create(
        (
            Nomination(
                cycle=cycle,
                account=account,
                kind="add",
                tier=1 + i % 3,
                rationale="Bench",
                proposer=marketer,
                proposer_side="marketing",
                state="approved",
            )
            for i, account in enumerate(accounts)
        ),
        batch_size=batch_size,
    )
    now = timezone.now()
    TargetAccount.objects.bulk_create(
        (
            TargetAccount(
                cycle=cycle,
                account=n.account,
                tier=n.tier,
                sales_owner=seller,
                marketing_owner=marketer,
                nomination=n,
                last_nomination=n,
                added_at=now,
                updated_at=now,
            )
            for n in nominations
        ),
        batch_size=batch_size,
    )
