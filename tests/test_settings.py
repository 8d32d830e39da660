"""The settings module: safe embedded defaults, a production mode that refuses to start
insecurely and passes Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STRONG_KEY = "k" * 20 + "-accord-production-secret-0123456789"


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"ACCORD_ENV", "SECRET_KEY"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_in_production_without_a_secret_key():
    result = manage("check", ACCORD_ENV="production")
    assert result.returncode != 0
    assert "needs SECRET_KEY" in result.stderr


def test_it_refuses_the_embedded_default_key_in_production():
    result = manage(
        "check",
        ACCORD_ENV="production",
        SECRET_KEY="django-insecure-accord-embedded-default-do-not-deploy",
    )
    assert result.returncode != 0


def test_check_deploy_is_clean_with_production_settings():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        ACCORD_ENV="production",
        SECRET_KEY=STRONG_KEY,
        ALLOWED_HOSTS="accord.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_tasks_run_in_process_when_no_broker_is_configured():
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER)",
        CELERY_BROKER_URL="",
    )
    assert result.stdout.strip() == "True", result.stderr
    result = manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.conf import settings; print(settings.CELERY_TASK_ALWAYS_EAGER)",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.stdout.strip() == "False", result.stderr
