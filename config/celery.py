"""The Celery app. Settings come from config/settings.py (every `CELERY_*` name): the Redis
broker in CELERY_BROKER_URL, late acknowledgement, one task at a time per process, JSON only,
time limits, and django-celery-beat's database scheduler for the periodic tasks.

    celery -A config worker --loglevel=INFO      # as many as needed, on any machine
    celery -A config beat --loglevel=INFO        # exactly one

Without CELERY_BROKER_URL the tasks run in-process (the embedded default).
"""

import logging.config
import os

from celery import Celery, signals
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# A task's log lines carry the request id of the request that queued it (django-structlog).
app.steps["worker"].add(DjangoStructLogInitStep)


@signals.setup_logging.connect
def _logging_from_settings(**kwargs):
    """Workers and beat log like the web processes (config/logging.py), not in Celery's format."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
