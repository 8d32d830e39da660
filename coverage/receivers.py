"""Coverage listens to crm: a finished pull brings new contacts, deals and activities."""

from django.dispatch import receiver

from crm.signals import pull_finished


@receiver(pull_finished, dispatch_uid="coverage.snapshots_after_pull")
def _snapshot_after_pull(sender, run, **kwargs) -> None:
    from coverage import services

    services.snapshots_after_pull(run=run)
