"""Celery entry points of accounts_app: load by id, call the service."""

from celery import shared_task


@shared_task(acks_late=True)
def accounts_rescore(icp_version_id: int) -> int:
    """Rescore every account against a profile that took effect. Rerunning it (a worker that
    died half-way) is harmless: it only writes the scores that differ."""
    from accounts_app.models import IcpVersion
    from accounts_app.services import accounts_rescore as rescore

    icp = IcpVersion.objects.filter(pk=icp_version_id).first()
    return rescore(icp=icp) if icp is not None else 0
