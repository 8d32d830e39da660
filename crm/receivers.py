"""What the CRM sync does when the workflow or the accounts tell it something (core.hooks),
inside their transaction: an outbox row, pushed after commit."""

from django.db import transaction


def target_changed(sender, *, target, nomination, **kwargs) -> None:
    from crm.services import target_change_record

    target_change_record(target=target, nomination=nomination)


def account_changed(sender, *, account, **kwargs) -> None:
    from crm.services import account_changed_record

    account_changed_record(account=account)


def cycle_closed(sender, *, cycle, **kwargs) -> None:
    """Every account of a closed cycle's list is pushed again: an account on no other open
    list is then no longer a target account in the CRM (push payloads skip closed cycles)."""
    from crm import outbox
    from crm.models import OutboxChange, OutboxEntry, OutboxState
    from workflow.models import TargetAccount

    if not outbox.record_cycle(cycle_id=cycle.pk, change=OutboxChange.RESYNC):
        return

    def push() -> None:
        accounts = TargetAccount.objects.filter(cycle_id=cycle.pk).values("account_id")
        ids = OutboxEntry.objects.filter(
            account_id__in=accounts, state=OutboxState.PENDING
        ).values_list("pk", flat=True)
        # Never raises; whatever is not pushed now the sweeper delivers.
        outbox.queue_push(list(ids))

    transaction.on_commit(push)
