"""Real processes on loopback, for the fault scripts (ops/faults/), the end-to-end tests and the
load benchmark: a redis-server, gunicorn, Celery workers and beat, or any command, each in a
session of its own, its output appended to a log file, and waited for until it answers.

Whoever starts a process stops it, by its process group (SIGTERM, SIGKILL after a grace
period), so that the children it started go with it. Nothing here touches a process it did not
start.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class ProcessError(RuntimeError):
    """A process would not start or answer, or what was waited for did not come in time."""


class NotInstalled(ProcessError):
    """A binary a process needs is not on PATH."""


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


def wait_for(
    condition: Callable[[], object],
    *,
    timeout: float,
    what: str = "it",
    interval: float = 0.1,
    explain: Callable[[], str] | None = None,
):
    """Poll `condition` until it returns something truthy (returned); ProcessError after
    `timeout` seconds, with what `explain()` says, if given."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise ProcessError(
                f"Waited {timeout:.0f} s for {what}." + (f"\n{explain()}" if explain else "")
            )
        time.sleep(interval)


def eventually(condition: Callable[[], object], *, timeout: float, interval=0.5) -> bool:
    """Whether `condition` turns true within `timeout` seconds (for what a check then judges)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def stop_group(process: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 20) -> None:
    """Stop a process started with start_new_session=True, and everything it started: `sig` to
    the group, SIGKILL after `timeout` seconds."""
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
        raise NotInstalled(f"{binary} is not installed.")
    return path


class Service:
    """One long-running process in a session of its own, run in the checkout with exactly
    `env` (None: this process's environment), its output appended to `log` (None: discarded).
    Ready when it has logged the `ready` line and listens on `port`, each if given; an exit
    before that is a ProcessError at once, with the end of its log."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict | None,
        log: Path | None,
        *,
        ready: str = "",
        port: int | None = None,
    ):
        self.name, self.command, self.env, self.log_path = name, command, env, log
        self.ready_line, self.port = ready, port
        self.process: subprocess.Popen | None = None
        self.offset = 0
        self.starts = 0

    def start(self, timeout: float = 90) -> Service:
        """Launch it and wait until it is ready."""
        return self.launch().wait_ready(timeout)

    def launch(self) -> Service:
        """Start it without waiting (to start several at once, then wait for each)."""
        logged = self.log_path is not None and self.log_path.exists()
        self.offset = self.log_path.stat().st_size if logged else 0
        with open(self.log_path or os.devnull, "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        return self

    def wait_ready(self, timeout: float = 90) -> Service:
        wait_for(self.ready, timeout=timeout, what=f"{self.name} to start")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise ProcessError(
                f"{self.name} exited ({self.process.returncode}):\n{self.output()[-3000:]}"
            )
        if self.ready_line and not self.saw(re.escape(self.ready_line)):
            return False
        return self.port is None or listening(self.port)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self, since_start: bool = True) -> str:
        """What it logged (since this run of it started, unless not `since_start`)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        data = self.log_path.read_bytes()
        return data[self.offset if since_start else 0 :].decode(errors="replace")

    def saw(self, pattern: str) -> int:
        """How many lines this run of the process logged match the regular expression."""
        return len(re.findall(pattern, self.output()))

    def kill(self) -> None:
        """SIGKILL the whole group: the main process and its children, mid-task."""
        stop_group(self.process, signal.SIGKILL)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the whole group (a warm shutdown), SIGKILL after `timeout` seconds."""
        stop_group(self.process, signal.SIGTERM, timeout)


class RedisServer(Service):
    """A redis-server of its own on a spare port that keeps nothing on disk: stopped (SIGKILL),
    it forgets every queued task, as a Redis restarted without persistence does. `url` is the
    server's, without a database number (database 0)."""

    def __init__(self, log_dir: Path | None = None, port: int | None = None):
        port = port or free_port()
        self.url = f"redis://127.0.0.1:{port}"
        command = [need("redis-server"), "--port", str(port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no", "--protected-mode", "yes"]
        log = log_dir / "redis.log" if log_dir else None
        super().__init__("redis-server", command, None, log, port=port)

    def start(self, timeout: float = 20) -> RedisServer:
        return super().start(timeout)

    def ready(self) -> bool:
        return super().ready() and self.ping()

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

    def stop(self, timeout: float = 20) -> None:
        stop_group(self.process, signal.SIGKILL, timeout)
        self.process = None


def worker(env: dict, log_dir: Path, *, beat: bool = False, concurrency: int = 2) -> Service:
    """`celery -A config worker` (with an embedded beat when `beat`), ready at its "ready."."""
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
        f"--hostname=accord-{os.getpid()}-{time.monotonic_ns()}@localhost",
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
    """gunicorn as production runs it (gthread), on a spare port, ready when it listens.
    `keep_alive` longer than a client's pause between requests, as a load balancer in front
    would hold the connection: with gunicorn's 2 s a request may race the server closing its
    idle connection, and fail with a reset. `options` are more of gunicorn's."""

    def __init__(
        self,
        env: dict,
        log_dir: Path,
        *,
        workers: int = 2,
        threads: int = 4,
        keep_alive: int = 75,
        options: Sequence[str] = (),
    ):
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.count = workers
        super().__init__(
            "gunicorn",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                f"--bind=127.0.0.1:{port}",
                f"--workers={workers}",
                f"--threads={threads}",
                "--worker-class=gthread",
                "--timeout=120",
                f"--keep-alive={keep_alive}",
                "--error-logfile=-",
                *options,
            ],
            env,
            log_dir / "gunicorn.log",
            port=port,
        )

    def workers(self) -> list[int]:
        return children(self.pid) if self.pid else []


class Started:
    """What a run started, stopped in reverse order by `close()` (each part's `close()`, or
    its `stop()`); one that fails to stop does not keep the others running."""

    def __init__(self):
        self.parts: list = []

    def add(self, part):
        self.parts.append(part)
        return part

    def close(self) -> None:
        for part in reversed(self.parts):
            try:
                part.close() if hasattr(part, "close") else part.stop()
            except Exception as error:  # the others must still be stopped
                print(f"(stopping {type(part).__name__}: {error})", file=sys.stderr)
        self.parts.clear()
