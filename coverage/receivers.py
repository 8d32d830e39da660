"""Coverage listens: a finished CRM pull brings new contacts, deals and activities."""

from django.dispatch import receiver

from core.hooks import pull_finished


@receiver(pull_finished, dispatch_uid="coverage.snapshots_after_pull")
def _snapshot_after_pull(sender, state: str, more_to_pull: bool, **kwargs) -> None:
    from coverage import services

    services.snapshots_after_pull(state=state, more_to_pull=more_to_pull)
