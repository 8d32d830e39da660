"""Logs: one JSON object a line in production, readable text in development (LOG_FORMAT
overrides), and a request's id on the lines of the Celery tasks it queues, in the worker."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connection

from crm.models import SyncRun, SyncState
from ops import processes
from ops.processes import ROOT, Service, wait_for
from tests.conftest import running_in_ci
from tests.crm.processes import RedisServer
from tests.test_settings import STRONG_KEY

LOG_A_LINE = "import logging; logging.getLogger('accord.test').warning('hello %s', 'operator')"


def log_a_line(**env) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in {"ACCORD_ENV", "LOG_FORMAT"}}
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", LOG_A_LINE],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr.strip().splitlines()[-1]


def test_production_logs_one_json_object_a_line():
    line = json.loads(log_a_line(ACCORD_ENV="production", SECRET_KEY=STRONG_KEY))
    assert line["event"] == "hello operator"
    assert line["level"] == "warning"
    assert line["logger"] == "accord.test"
    assert line["timestamp"].endswith("Z")


def test_development_logs_readable_text():
    line = log_a_line()
    assert not line.startswith("{")
    assert "hello operator" in line and "warning" in line


def test_log_format_overrides_the_default():
    assert json.loads(log_a_line(LOG_FORMAT="json"))["event"] == "hello operator"
    line = log_a_line(ACCORD_ENV="production", SECRET_KEY=STRONG_KEY, LOG_FORMAT="text")
    assert not line.startswith("{")


def test_an_unknown_log_format_refuses_to_start():
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**os.environ, "LOG_FORMAT": "xml"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "LOG_FORMAT must be one of json, text" in result.stderr


def request_lines(caplog) -> dict[str, dict]:
    return {r.msg["event"]: r.msg for r in caplog.records if isinstance(r.msg, dict)}


@pytest.mark.django_db
def test_a_request_logs_the_clients_address_as_the_proxies_vouch_for_it(client, caplog, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    with caplog.at_level("INFO"):
        client.get("/login/", REMOTE_ADDR="198.51.100.9", HTTP_X_FORWARDED_FOR="8.8.8.8")
    assert request_lines(caplog)["request_started"]["ip"] == "198.51.100.9"  # not the forgery

    settings.TRUSTED_PROXY_COUNT = 1
    caplog.clear()
    with caplog.at_level("INFO"):
        client.get("/login/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="203.0.113.4")
    lines = request_lines(caplog)
    assert lines["request_started"]["ip"] == lines["request_finished"]["ip"] == "203.0.113.4"


@pytest.fixture
def worker(settings, tmp_path):
    """This process publishes to a redis-server of the test's own; a worker consumes it, with
    JSON logs, on the test database (so PostgreSQL, and transactional tests)."""
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("The worker test needs PostgreSQL (DATABASE_URL) in CI.")
        pytest.skip("needs PostgreSQL: the worker process must see the test database")
    from config.celery import app

    redis = RedisServer().start()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    saved = app.conf.broker_url, app.conf.task_always_eager
    app.conf.broker_url, app.conf.task_always_eager = redis.url, False
    app._pool, app.amqp._producer_pool = None, None
    db = django_settings.DATABASES["default"]
    env = {
        **os.environ,
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/"
            f"{db['NAME']}"
        ),
        "CONN_MAX_AGE": "0",
        "CELERY_BROKER_URL": redis.url,
        "CRM_BACKEND": "none",
        "LOG_FORMAT": "json",
    }
    worker = processes.worker(env, tmp_path).start()
    yield worker
    worker.stop()
    app.conf.broker_url, app.conf.task_always_eager = saved
    app._pool, app.amqp._producer_pool = None, None
    redis.stop()


def events(worker: Service) -> list[dict]:
    lines = worker.log_path.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


@pytest.mark.django_db(transaction=True)
def test_a_task_logs_the_request_id_of_the_request_that_queued_it(
    worker, people, client, caplog, settings
):
    settings.CRM_BACKEND = "none"
    client.force_login(people.ops)

    with caplog.at_level("INFO"):
        answer = client.post("/sync/push/")

    assert answer.status_code == 302
    web = request_lines(caplog)
    request_id = web["request_started"]["request_id"]
    assert web["request_finished"]["request_id"] == request_id
    queued = web["task_enqueued"]
    assert queued["request_id"] == request_id
    task_id = queued["child_task_id"]

    def task_lines():
        lines = [e for e in events(worker) if e.get("task_id") == task_id]
        return lines if any(e["event"] == "task_succeeded" for e in lines) else None

    lines = wait_for(
        task_lines, timeout=30, what="the worker to run the push", explain=worker.output
    )
    assert {e["event"] for e in lines} >= {"task_started", "task_succeeded"}
    assert {e["request_id"] for e in lines} == {request_id}
    assert {e["user_id"] for e in lines} == {people.ops.pk}
    assert SyncRun.objects.get().state == SyncState.SUCCEEDED
