"""PostgreSQL restarted under load (ops/faults/postgres_restart.py), on a cluster of the
script's own: the site answers 503 while it is down, then recovers by itself, as does the
worker; nothing is half-written."""

import shutil
from pathlib import Path

import pytest

from tests.conftest import running_in_ci
from tests.faults.conftest import database_url


@pytest.fixture
def initdb():
    if not (list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or shutil.which("initdb")):
        if running_in_ci():
            pytest.fail("The PostgreSQL restart needs PostgreSQL's server binaries (initdb) in CI.")
        pytest.skip("needs PostgreSQL's server binaries (initdb)")


@pytest.mark.django_db
def test_the_site_and_the_worker_recover_from_postgresql_restarts(initdb, postgres, fault):
    # The cluster gets the test database's schema by copy: quicker than the migrations.
    outcome = fault("postgres-restart", "--schema-from", database_url())

    assert outcome.code == 0, outcome.output
    assert all(outcome.checks.values()) and len(outcome.checks) >= 12, outcome.checks
    _, crash = outcome.figures["outages"]
    assert crash["failed_requests"] > 0  # the crash did hit requests, which got a 503
    assert outcome.figures["statuses"].get("503", 0) > 0
    assert "500" not in outcome.figures["statuses"]
