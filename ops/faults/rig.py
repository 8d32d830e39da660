"""The parts a fault script runs Accord on, each a real process of its own on loopback: a private
PostgreSQL cluster (for the fault that restarts it), a private redis-server, the HubSpot
sandbox (in a thread of the script), Celery workers, Celery beat and gunicorn (the generic ones
from ops/processes.py).

Every process is started in a session of its own and stopped by its process group, by the
script that started it (`Rig.close()`, also when the script fails). Nothing here touches a
PostgreSQL or Redis it did not start. A part that would not start or answer raises
ProcessError: the fault was not run (not a FAIL of Accord).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from ops.processes import ProcessError, Started, free_port, need, wait_for

SANDBOX_TOKEN = "accord-fault-sandbox-token"
KEY_PROPERTY = "accord_account_key"


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# --- processes --------------------------------------------------------------------------------


class PrivatePostgres:
    """A PostgreSQL cluster of the rig's own (initdb into its directory, a spare port, the
    socket in its directory, fsync off): the one fault that restarts PostgreSQL restarts
    this one. Run as the `postgres` user when the script runs as root (PostgreSQL refuses
    root)."""

    def __init__(self, directory: Path):
        self.bin = self._bin_dir()
        self.directory = directory
        self.data = directory / "pgdata"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            self.as_user = [need("runuser"), "-u", "postgres", "--"]

    @staticmethod
    def _bin_dir() -> Path:
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if candidates:
            return candidates[-1].parent
        return Path(need("initdb")).parent

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, check=check, timeout=120
        )

    def init(self) -> PrivatePostgres:
        self.directory.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.directory, "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        return self

    def _options(self) -> str:
        return (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories="
            f"{self.directory} -c fsync=off -c full_page_writes=off -c max_connections=200"
        )

    def start(self) -> float:
        """Start it and wait until it accepts connections; returns the seconds it took."""
        started = time.monotonic()
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-o",
            self._options(),
            "-w",
            "start",
        )
        wait_for(self.accepting, timeout=60, what="the private PostgreSQL")
        return time.monotonic() - started

    def restart(self, mode: str = "fast") -> float:
        """`pg_ctl restart -m MODE`; returns the seconds until it accepts connections again."""
        started = time.monotonic()
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.directory / "postgres.log"),
            "-o",
            self._options(),
            "-m",
            mode,
            "-w",
            "restart",
        )
        wait_for(self.accepting, timeout=60, what="the private PostgreSQL after its restart")
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        done = self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "status", check=False)
        return done.returncode == 0

    def accepting(self) -> bool:
        done = subprocess.run(
            [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
            check=False,
            timeout=10,
        )
        return done.returncode == 0

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return with_database(self.url, name)

    def copy_from(self, source_url: str, target_url: str) -> None:
        """A migrated database copied into this cluster: `pg_dump --format=custom` of
        `source_url`, `pg_restore` into `target_url` (quicker than the migrations)."""
        dump = self.directory / "schema.dump"
        for command in (
            [str(self.bin / "pg_dump"), "--format=custom", f"--file={dump}", source_url],
            [
                str(self.bin / "pg_restore"),
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={target_url}",
                str(dump),
            ],
        ):
            done = subprocess.run(command, capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise ProcessError(f"{Path(command[0]).name} failed: {done.stderr[-2000:]}")

    def close(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")


class Sandbox:
    """The HubSpot sandbox, served from a thread of the script (the CRM is outside Accord).
    `go_down()` closes its port (requests are refused), `come_back()` serves the same store
    on the same port again."""

    def __init__(self, *, rate_limit: int = 100_000):
        from crm.sandbox import build_app

        self.app = build_app(
            "hubspot",
            token=SANDBOX_TOKEN,
            rate_limit=rate_limit,
            search_rate_limit=100_000,
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.handle = None
        self.come_back()

    def come_back(self) -> None:
        import threading

        from crm.sandbox import SandboxHandle
        from crm.sandbox.core import SandboxHTTPServer

        server = SandboxHTTPServer(("127.0.0.1", self.port), self.app)
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        thread.start()
        self.handle = SandboxHandle(server, thread)
        self.app.base_url = self.url

    def go_down(self) -> None:
        self.handle.stop()
        self.handle = None

    def companies(self) -> list[dict]:
        """Every company the CRM holds (the sandbox's hook, no rate limit)."""
        return self.handle.objects("companies")["results"]

    def counters(self) -> dict:
        return self.handle.counters()

    def close(self) -> None:
        if self.handle is not None:
            self.go_down()


def accord_env(*, database_url: str, broker_url: str, sandbox_url: str, **more: str) -> dict:
    """The environment of Accord's processes in the rig (web, worker, beat)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "accord-fault-rig-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "CELERY_BROKER_URL": f"{broker_url}/0",
            "CRM_RATE_LIMIT_REDIS_URL": f"{broker_url}/1",
            "CRM_BACKEND": "hubspot",
            "HUBSPOT_BASE_URL": sandbox_url,
            "HUBSPOT_ACCESS_TOKEN": SANDBOX_TOKEN,
            "HUBSPOT_ACCOUNT_KEY_PROPERTY": KEY_PROPERTY,
            "HUBSPOT_RATE_LIMIT": "100000",
            "HUBSPOT_SEARCH_RATE_LIMIT": "100000",
            "EMAIL_URL": "dummymail://",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
        }
    )
    env.update(more)
    return env


# --- the rig --------------------------------------------------------------------------------


class Rig(Started):
    """What one fault run started, in one directory (logs), closed in reverse order."""

    def __init__(self, directory: Path | None = None, *, keep: bool = False):
        super().__init__()
        self.keep = keep or directory is not None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="accord-fault-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        self.t0 = time.monotonic()

    def at(self) -> float:
        """Seconds since the rig was set up (the time line of what the script prints)."""
        return time.monotonic() - self.t0

    def say(self, line: str) -> None:
        print(f"[{self.at():6.1f} s] {line}", flush=True)

    def close(self) -> None:
        super().close()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
