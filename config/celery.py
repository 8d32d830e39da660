"""The Celery app. Settings come from config/settings.py (every `CELERY_*` name): the Redis
broker in CELERY_BROKER_URL, late acknowledgement, one task at a time per process, JSON only,
time limits, and django-celery-beat's database scheduler for the periodic tasks.

    celery -A config worker --loglevel=INFO      # as many as needed, on any machine
    celery -A config beat --loglevel=INFO        # exactly one

Without CELERY_BROKER_URL the tasks run in-process (the embedded default).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("accord")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
