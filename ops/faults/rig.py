"""The parts a fault script runs Accord on, each a real process of its own on loopback: a private
PostgreSQL cluster (for the fault that restarts it), a private redis-server, the HubSpot
sandbox (in a thread of the script), Celery workers, Celery beat and gunicorn.

Every process is started in a session of its own and stopped by its process group, by the
script that started it (`Rig.close()`, also when the script fails). Nothing here touches a
PostgreSQL or Redis it did not start.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
SANDBOX_TOKEN = "accord-fault-sandbox-token"
KEY_PROPERTY = "accord_account_key"


class RigError(RuntimeError):
    """A part of the rig would not start or answer: the fault was not run (not a FAIL of
    Accord)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, interval=0.1):
    """Poll `condition` until it returns something truthy (returned); RigError after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RigError(f"Waited {timeout:.0f} s for {what}.")
        time.sleep(interval)


def eventually(condition: Callable[[], object], *, timeout: float, interval=0.5) -> bool:
    """Whether `condition` turns true within `timeout` seconds (for what a check then judges)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def stop_group(process: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 15) -> None:
    """Stop a process started with start_new_session=True, and everything it started."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise RigError(f"{binary} is not installed.")
    return path


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# --- processes --------------------------------------------------------------------------------


class Service:
    """One long-running process with its log in the rig's directory."""

    def __init__(self, name: str, command: list[str], env: dict, log: Path, ready: str = ""):
        self.name, self.command, self.env, self.log_path = name, command, env, log
        self.ready_line = ready
        self.process: subprocess.Popen | None = None
        self.offset = 0
        self.starts = 0

    def start(self, timeout: float = 90) -> Service:
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        wait_for(self.ready, timeout=timeout, what=f"{self.name} to start")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RigError(
                f"{self.name} exited ({self.process.returncode}):\n{self.output()[-3000:]}"
            )
        return not self.ready_line or self.saw(re.escape(self.ready_line)) > 0

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self, since_start: bool = True) -> str:
        data = self.log_path.read_bytes() if self.log_path.exists() else b""
        return data[self.offset if since_start else 0 :].decode(errors="replace")

    def saw(self, pattern: str) -> int:
        """How many lines this run of the process logged match the regular expression."""
        return len(re.findall(pattern, self.output()))

    def kill(self) -> None:
        """SIGKILL the whole group: the main process and its children, mid-task."""
        stop_group(self.process, signal.SIGKILL)

    def stop(self) -> None:
        stop_group(self.process, signal.SIGTERM)


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
                raise RigError(f"{Path(command[0]).name} failed: {done.stderr[-2000:]}")

    def close(self) -> None:
        if self.data.exists() and self.running():
            self.stop("immediate")


class RedisServer:
    """A redis-server of the rig's own that keeps nothing on disk: stopped, it forgets every
    queued task, as a Redis restarted without persistence does."""

    def __init__(self, log_dir: Path, port: int | None = None):
        self.binary = need("redis-server")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        with open(self.log_dir / "redis.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(self.ping, timeout=20, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def queued(self, queue: str = "celery") -> int:
        """Task messages waiting in a Celery queue (db 0)."""
        import redis

        return int(redis.Redis.from_url(f"{self.url}/0", socket_connect_timeout=2).llen(queue))

    def stop(self) -> None:
        stop_group(self.process, signal.SIGKILL)
        self.process = None


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


def worker(env: dict, log_dir: Path, *, beat: bool = False, concurrency: int = 2) -> Service:
    """`celery -A config worker` (with an embedded beat when `beat`)."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "--loglevel=INFO",
        f"--concurrency={concurrency}",
        "--pool=prefork",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        f"--hostname=fault-{os.getpid()}-{time.monotonic_ns()}@localhost",
    ]
    if beat:
        command += [
            "--beat",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            f"--schedule={log_dir / 'celerybeat-schedule'}",
        ]
    return Service("celery worker", command, env, log_dir / "worker.log", ready="ready.")


def beat(env: dict, log_dir: Path) -> Service:
    """`celery -A config beat` with the database scheduler, as production runs it (one)."""
    return Service(
        "celery beat",
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "beat",
            "--loglevel=INFO",
            "--scheduler",
            "django_celery_beat.schedulers:DatabaseScheduler",
            f"--schedule={log_dir / 'celerybeat-schedule'}",
        ],
        env,
        log_dir / "beat.log",
        ready="beat: Starting",
    )


class WebServer(Service):
    """gunicorn as production runs it (gthread), on a spare port."""

    def __init__(self, env: dict, log_dir: Path, *, workers: int = 2, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.count = workers
        super().__init__(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={workers}",
                f"--threads={threads}",
                "--worker-class=gthread",
                "--timeout=120",
                "--keep-alive=75",
                "--error-logfile=-",
            ],
            env,
            log_dir / "gunicorn.log",
        )

    def ready(self) -> bool:
        return super().ready() and listening(self.port)

    def workers(self) -> list[int]:
        return children(self.pid) if self.pid else []


# --- the rig --------------------------------------------------------------------------------


class Rig:
    """What one fault run started, in one directory (logs), closed in reverse order."""

    def __init__(self, directory: Path | None = None, *, keep: bool = False):
        self.keep = keep or directory is not None
        self.directory = directory or Path(tempfile.mkdtemp(prefix="accord-fault-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        self.parts: list = []
        self.t0 = time.monotonic()

    def add(self, part):
        self.parts.append(part)
        return part

    def at(self) -> float:
        """Seconds since the rig was set up (the time line of what the script prints)."""
        return time.monotonic() - self.t0

    def say(self, line: str) -> None:
        print(f"[{self.at():6.1f} s] {line}", flush=True)

    def close(self) -> None:
        for part in reversed(self.parts):
            try:
                part.close() if hasattr(part, "close") else part.stop()
            except Exception as error:  # the others must still be stopped
                print(f"(stopping {type(part).__name__}: {error})", file=sys.stderr)
        self.parts.clear()
        if not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)
