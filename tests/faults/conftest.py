"""Running a fault script (ops/faults/) as ops would, at its CI size, and reading its verdict."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import connection

from ops.processes import ROOT
from tests.conftest import running_in_ci


def database_url() -> str:
    """The test database's URL, for the script's processes."""
    db = settings.DATABASES["default"]
    return (
        f"postgres://{db['USER']}:{db.get('PASSWORD') or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )


@dataclass
class Outcome:
    code: int
    output: str
    verdict: dict

    @property
    def checks(self) -> dict[str, bool]:
        return {c["name"]: c["ok"] for c in self.verdict.get("checks", [])}

    @property
    def figures(self) -> dict:
        return self.verdict.get("figures", {})


@pytest.fixture
def fault(tmp_path):
    """`fault("redis-restart", "--accounts", "50", database=True)`: the script in a process of
    its own (on the test's database when `database`: an empty, migrated one, emptied again by
    the transactional test afterwards); its exit code, output and verdict."""

    def run(name: str, *args: str, database: bool = False, timeout: float = 600) -> Outcome:
        command = [sys.executable, "-m", "ops.faults", name, "--json", str(tmp_path / "out.json")]
        if database:
            command += ["--database-url", database_url()]
        env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
        done = subprocess.run(
            [*command, *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        path = tmp_path / "out.json"
        verdict = json.loads(path.read_text()) if path.exists() else {}
        return Outcome(done.returncode, done.stdout + done.stderr, verdict)

    return run


@pytest.fixture
def postgres():
    if connection.vendor != "postgresql":
        if running_in_ci():
            pytest.fail("The fault scripts need PostgreSQL (DATABASE_URL) in CI.")
        pytest.skip("needs PostgreSQL")
