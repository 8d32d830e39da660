"""Coverage listens: a finished CRM pull brings new contacts, deals and activities; a snapshot
saved or deleted changes which is its cycle's latest."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from core.hooks import pull_finished
from coverage.models import Snapshot
from coverage.selectors import forget_latest_key


@receiver(post_save, sender=Snapshot, dispatch_uid="coverage.latest_after_save")
@receiver(post_delete, sender=Snapshot, dispatch_uid="coverage.latest_after_delete")
def _forget_latest(sender, instance: Snapshot, **kwargs) -> None:
    forget_latest_key(instance.cycle_id)


@receiver(pull_finished, dispatch_uid="coverage.snapshots_after_pull")
def _snapshot_after_pull(sender, state: str, more_to_pull: bool, **kwargs) -> None:
    from coverage import services

    services.snapshots_after_pull(state=state, more_to_pull=more_to_pull)
