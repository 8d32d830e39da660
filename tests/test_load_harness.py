"""The load harness (bench/load/) at a tiny size: its data loader, then a five-second locust
run of the whole mix (sign-in, pages, forms with CSRF, sign-offs, the CRM job's polling with
ETags) against gunicorn on the test database, without a single error."""

import importlib
import json
import os
import subprocess
import sys

import pytest
from django.db import connection

from bench.load import pages
from bench.load.data import load
from ops.processes import ROOT, WebServer
from workflow.models import Nomination

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def definitions_v1():
    """The coverage definitions a migration seeds (the loader's snapshot needs them): another
    transactional test that ran before this one in the same process has flushed them."""
    from django.apps import apps

    importlib.import_module("coverage.migrations.0002_definitions_v1").seed(apps, None)


def test_a_short_run_of_the_whole_mix_answers_every_request(tmp_path, settings, definitions_v1):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")  # the postgres marker fails it in CI first
    # gunicorn checks the passwords with the production hasher.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]
    fixture = load(
        accounts=30, people=5, busy_team=5, in_review=6, prospects_per_person=3, say=lambda _: None
    )
    assert fixture["sizes"]["target accounts"] >= 30
    assert fixture["sizes"]["approvers"] == 2
    assert Nomination.objects.filter(state="in_review").count() >= 4
    (tmp_path / "fixture.json").write_text(json.dumps(fixture))

    db = settings.DATABASES["default"]
    web = WebServer(
        {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_BROKER_URL": "",
            "CRM_BACKEND": "none",
            "EMAIL_URL": "dummymail://",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
        },
        tmp_path,
        workers=1,
        threads=4,
    ).start()
    samples = tmp_path / "samples.jsonl"
    try:
        locust = subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "-f",
                str(ROOT / "bench/load/locustfile.py"),
                "--headless",
                "-u",
                "6",
                "-r",
                "6",
                "-t",
                "90s",
                "--host",
                web.url,
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env={
                **os.environ,
                "ACCORD_LOAD_FIXTURE": str(tmp_path / "fixture.json"),
                "ACCORD_LOAD_PEOPLE": "5",
                "ACCORD_LOAD_POLLERS": "1",
                "ACCORD_LOAD_STEADY_SECONDS": "5",
                "ACCORD_LOAD_SETTLE_SECONDS": "1",
                "ACCORD_LOAD_THINK": "0.1,0.3",
                "ACCORD_LOAD_POLL_SECONDS": "0.5",
                "ACCORD_LOAD_SAMPLES": str(samples),
            },
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        web.stop()
    assert locust.returncode == 0, locust.stdout[-3000:] + locust.stderr[-3000:]

    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert [r for r in rows if r.get("error")] == []
    ramp = [r for r in rows if r["phase"] == "ramp"]
    steady = [r for r in rows if r["phase"] == "steady"]
    # Each person signs in once as they start (the first may sign in again meanwhile).
    assert sum(1 for r in ramp if r["name"] == "POST sign-in") >= 5
    assert len(steady) >= 5
    names = {r["name"] for r in rows}
    assert names <= {name for _, _, name in pages.ROUTES} | pages.READS
    assert {"GET queue", "GET nomination page", "GET API agreed list (200)"} <= names
    assert "GET API agreed list (304)" in names  # the poller's ETag comes back unchanged
