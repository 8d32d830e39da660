"""Celery entry points of accounts_app: thin, they take an id and call a service (the CSV
import's steps in accounts_app.imports, the rescoring in accounts_app.services). With acks_late
and reject_on_worker_lost (config/settings.py) a task whose worker dies goes back to the queue
and runs again; the attempt guard of each import step makes a second run take over."""

from celery import shared_task

LATE = {"acks_late": True}


@shared_task(**LATE)
def check_csv_import(import_id: int) -> int:
    from accounts_app.imports import csv_import_check
    from accounts_app.models import CsvImport

    csv_import = CsvImport.objects.defer("data").filter(pk=import_id).first()
    if csv_import is not None:
        csv_import_check(csv_import=csv_import)
    return import_id


@shared_task(**LATE)
def run_csv_import(import_id: int) -> int:
    from accounts_app.imports import csv_import_run
    from accounts_app.models import CsvImport

    csv_import = CsvImport.objects.defer("data").filter(pk=import_id).first()
    if csv_import is not None:
        csv_import_run(csv_import=csv_import)
    return import_id


@shared_task(**LATE)
def resume_csv_imports() -> int:
    """Beat, every 5 minutes: checks and imports that stopped without finishing."""
    from accounts_app.imports import csv_imports_resume

    return csv_imports_resume()


@shared_task(**LATE)
def accounts_rescore(icp_version_id: int) -> int:
    """Rescore every account against a profile that took effect. Rerunning it (a worker that
    died half-way) is harmless: it only writes the scores that differ."""
    from accounts_app.models import IcpVersion
    from accounts_app.services import accounts_rescore as rescore

    icp = IcpVersion.objects.filter(pk=icp_version_id).first()
    return rescore(icp=icp) if icp is not None else 0
