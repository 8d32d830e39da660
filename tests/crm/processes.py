"""Real processes for the fault tests: a redis-server and Celery workers on spare loopback ports,
each stopped (and its whole process group killed) by the test that started it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import running_in_ci

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, *, timeout: float, interval: float = 0.1, what: str = "it", explain=None):
    """Poll `condition` until it returns something truthy; fail the test after `timeout`
    (with what `explain()` says, if given)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(
                f"Waited {timeout:.0f} s for {what}." + (f"\n{explain()}" if explain else "")
            )
        time.sleep(interval)


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        message = f"{binary} is not installed"
        if running_in_ci():
            pytest.fail(message)
        pytest.skip(message)
    return path


def stop(process: subprocess.Popen | None, sig=signal.SIGTERM, timeout: float = 10) -> None:
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


class RedisServer:
    def __init__(self, port: int | None = None):
        self.binary = need("redis-server")
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> RedisServer:
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
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_for(self.ping, timeout=10, what=f"redis-server on port {self.port}")
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop(self.process, signal.SIGKILL)
        self.process = None


class Worker:
    """`celery -A config worker` (optionally with an embedded beat) as its own process group."""

    def __init__(self, env: dict, *, beat: bool = False, log: Path):
        self.env = env
        self.beat = beat
        self.log_path = log
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--loglevel=INFO",
            "--concurrency=2",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--hostname=e2e-{os.getpid()}-{time.monotonic_ns()}@localhost",
        ]
        if self.beat:
            command += ["--beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"]
        self.offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout=30, what="the Celery worker to start")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"The worker exited ({self.process.returncode}):\n{self.output()}")
        return b"ready." in self.log_path.read_bytes()[self.offset :]

    def saw(self, pattern: str) -> int:
        """How many lines the worker logged since it started match the regular expression."""
        text = self.log_path.read_bytes()[self.offset :].decode(errors="replace")
        return len(re.findall(pattern, text))

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")[-5000:]

    def kill(self) -> None:
        """SIGKILL the whole group: the main process and its pool children, mid-task."""
        stop(self.process, signal.SIGKILL)
        self.log.close()

    def stop(self) -> None:
        stop(self.process, signal.SIGTERM, timeout=15)
        if getattr(self, "log", None):
            self.log.close()


class WebServer:
    """`gunicorn config.wsgi` as in production (several workers, threads), on a spare port."""

    def __init__(self, env: dict, *, log: Path, workers: int = 2, threads: int = 8):
        self.env = env
        self.log_path = log
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> WebServer:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={self.workers}",
                f"--threads={self.threads}",
                "--worker-class=gthread",
                "--timeout=120",
                "--error-logfile=-",
            ],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self.ready, timeout=30, what="gunicorn to answer")
        return self

    def ready(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"gunicorn exited ({self.process.returncode}):\n{self.output()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def output(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")[-5000:]

    def stop(self) -> None:
        stop(self.process, signal.SIGTERM, timeout=15)
        if getattr(self, "log", None):
            self.log.close()
