"""Helpers of the digest tests: snapshots written by hand, and the parts of a sent e-mail."""

from datetime import timedelta

from django.utils import timezone

from coverage.models import AccountCoverage, Snapshot, SnapshotState
from coverage.selectors import definitions_effective
from workflow.models import TargetAccount


def hand_snapshot(cycle, days_ago: int, rows: dict[str, dict]) -> Snapshot:
    """A finished snapshot of `cycle` taken `days_ago`, with one row per account name in
    `rows` ({name: {"stage": …, "gaps": [...]}}); the accounts must be on the cycle's list."""
    when = timezone.now() - timedelta(days=days_ago)
    version = definitions_effective()
    snapshot = Snapshot.objects.create(
        cycle=cycle,
        taken_on=timezone.localdate(when),
        as_of=when,
        definitions_version=version,
        settings=version.settings,
        state=SnapshotState.DONE,
        total=len(rows),
        done=len(rows),
    )
    targets = {
        t.account.name: t
        for t in TargetAccount.objects.filter(cycle=cycle).select_related("account")
    }
    AccountCoverage.objects.bulk_create(
        AccountCoverage(
            snapshot=snapshot,
            target=targets[name],
            account=targets[name].account,
            position=position,
            tier=targets[name].tier,
            coverage=0.5,
            stage=row.get("stage", "targeted"),
            stage_since=snapshot.taken_on,
            first_stage="targeted",
            **{f"gap_{code}": True for code in row.get("gaps", [])},
        )
        for position, (name, row) in enumerate(rows.items())
    )
    return snapshot


def parts(message) -> dict[str, list]:
    """{content type: [payloads]} of every leaf part of a sent EmailMessage."""
    found: dict[str, list] = {}
    for part in message.message().walk():
        if part.is_multipart():
            continue
        found.setdefault(part.get_content_type(), []).append(part)
    return found


def text_and_html(message) -> tuple[str, str]:
    leaves = parts(message)
    text = leaves["text/plain"][0].get_payload(decode=True).decode()
    html = leaves["text/html"][0].get_payload(decode=True).decode()
    return text, html
