"""The restore drill (ops/restore_drill.py): a loaded database is dumped with pg_dump, restored
into a new one, and Accord serves the copy; a copy that lost rows fails the drill."""

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from tests.conftest import running_in_ci
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, nominate, put_on_list

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def source_url():
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("The restore drill needs PostgreSQL (DATABASE_URL) in CI.")
        pytest.skip("needs PostgreSQL")
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )


def drill(*args: str) -> tuple[int, dict]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    result = subprocess.run(
        [sys.executable, "ops/restore_drill.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def databases() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT datname FROM pg_database")
        return {name for (name,) in cursor.fetchall()}


def loaded(people, the_cycle):
    for _ in range(3):
        put_on_list(people, the_cycle, AccountFactory())
    proposal = nominate(people.marketer, the_cycle, AccountFactory())
    decide(proposal, people.sales_approver, decision="request_changes", note="Which region?")


def test_a_loaded_database_is_restored_and_served(source_url, people, the_cycle):
    loaded(people, the_cycle)
    before = databases()

    code, outcome = drill("--source", source_url)

    assert code == 0, outcome
    assert outcome["passed"] is True
    assert outcome["rows"] == "OK"
    assert outcome["migrations"] == "OK"
    assert outcome["healthz_database"] == "OK"
    assert outcome["signed_in_pages"] == "OK"
    assert outcome["total_rows"] > 100  # migrations' seeds, people, the list, its events
    assert outcome["dropped"] is True
    assert outcome["target"] not in databases()  # the copy is gone
    assert outcome["target"] not in before


def test_a_backup_missing_rows_fails_the_drill(source_url, people, the_cycle, tmp_path):
    loaded(people, the_cycle)
    # A "backup" of the schema only: restored, it has the tables but none of the people.
    dump = tmp_path / "schema-only.dump"
    subprocess.run(
        ["pg_dump", "--format=custom", "--schema-only", f"--file={dump}", f"--dbname={source_url}"],
        check=True,
    )
    target = f"{settings.DATABASES['default']['NAME']}_drill_kept"

    code, outcome = drill("--source", source_url, "--dump", str(dump), "--target", target, "--keep")

    try:
        assert code == 1
        assert outcome["passed"] is False
        assert outcome["rows"] == "every table is empty"
        assert outcome["signed_in_pages"] == "no person to sign in as"
        assert target in databases()  # --keep
    finally:
        with psycopg.connect(source_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{target}" WITH (FORCE)')
