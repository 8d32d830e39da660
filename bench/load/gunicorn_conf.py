"""gunicorn hooks for the load run: the CPU time of the thread that served each request
(`time.thread_time()` from just after the request is parsed to just after the answer is
written), one line per request in ACCORD_LOAD_CPU_DIR/cpu-<pid>.tsv. Without that variable
the hooks do nothing.

    gunicorn -c bench/load/gunicorn_conf.py config.wsgi --worker-class gthread …
"""

import os
import time

_DIR = os.environ.get("ACCORD_LOAD_CPU_DIR", "")
_fd: dict[int, int] = {}


def _out() -> int | None:
    if not _DIR:
        return None
    pid = os.getpid()
    if pid not in _fd:
        _fd[pid] = os.open(
            os.path.join(_DIR, f"cpu-{pid}.tsv"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644
        )
    return _fd[pid]


def pre_request(worker, req):
    req.accord_started = (time.thread_time(), time.perf_counter())


def post_request(worker, req, environ, resp):
    fd = _out()
    started = getattr(req, "accord_started", None)
    if fd is None or started is None:
        return
    cpu_ms = (time.thread_time() - started[0]) * 1000
    wall_ms = (time.perf_counter() - started[1]) * 1000
    status = getattr(resp, "status_code", 0) if resp is not None else 0
    # One write of a short line to an O_APPEND file: the worker's threads never interleave.
    line = f"{time.time():.3f}\t{req.method}\t{req.path}\t{status}\t{cpu_ms:.3f}\t{wall_ms:.3f}\n"
    os.write(fd, line.encode())
