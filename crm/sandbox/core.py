"""What both sandboxes share: requests and answers, routing, counters, rate windows, faults, and
the threaded HTTP server.

Standard library only, so that `python -m crm.sandbox` runs without Django and the tests can start
a server in a thread in a few milliseconds.
"""

from __future__ import annotations

import json
import random
import re
import socket
import struct
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOOK_PREFIX = "/__sandbox__/"


class BadJson(ValueError):
    pass


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)  # filled by the router

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as error:
            raise BadJson(str(error)) from error

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def args(self, name: str) -> list[str]:
        """A repeated or comma-separated query parameter (`properties=a,b&properties=c`)."""
        out: list[str] = []
        for value in self.query.get(name, []):
            out.extend(part for part in value.split(",") if part)
        return out

    def bearer_token(self) -> str | None:
        value = self.headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token.strip()


@dataclass
class Response:
    status: int
    body: Any = None  # JSON-able, bytes, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json;charset=utf-8"

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        return json.dumps(self.body, separators=(",", ":")).encode()


class ResetConnection:
    """Answer by resetting the TCP connection instead of writing a response."""


RESET = ResetConnection()


# --- time -------------------------------------------------------------------------------------


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_correlation_id() -> str:
    return str(uuid.uuid4())


# --- routing ----------------------------------------------------------------------------------


@dataclass
class Route:
    method: str
    pattern: str  # "/crm/v3/objects/:type/batch/:action"
    handler: Callable[[Request], Response]
    write: bool = False
    search: bool = False
    regex: re.Pattern = field(init=False)
    names: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.names = re.findall(r":(\w+)", self.pattern)
        regex = re.sub(r":(\w+)", r"(?P<\1>[^/]+)", self.pattern.rstrip("/"))
        self.regex = re.compile("^" + regex + "/?$")

    def label(self, params: dict[str, str], keep: set[str]) -> str:
        """`POST /crm/v3/objects/companies/batch/upsert`; ids stay `{id}` to keep counters small."""

        def fill(match: re.Match) -> str:
            name = match.group(1)
            return params[name] if name in keep else "{" + name + "}"

        return f"{self.method} " + re.sub(r":(\w+)", fill, self.pattern)


class Router:
    def __init__(self, keep_in_label: set[str]):
        self.routes: list[Route] = []
        self.keep = keep_in_label

    def add(self, method: str, pattern: str, handler, **flags) -> None:
        self.routes.append(Route(method, pattern, handler, **flags))

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        """(route, params, path_known): path_known is False for a 404, True for a 405."""
        path_known = False
        for route in self.routes:
            found = route.regex.match(path)
            if not found:
                continue
            path_known = True
            if route.method == method:
                return route, found.groupdict(), True
        return None, {}, path_known


# --- counters ---------------------------------------------------------------------------------


class Counters:
    """What the tests and benchmarks read back: requests by route and status, writes, records."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with getattr(self, "_lock", threading.Lock()):
            self.requests = 0
            self.by_route: Counter[str] = Counter()
            self.by_status: Counter[int] = Counter()
            self.write_requests = 0
            self.writes_by_route: Counter[str] = Counter()
            self.search_requests = 0
            self.records_created = 0
            self.records_updated = 0
            self.rate_limited = 0
            self.rate_limited_by_policy: Counter[str] = Counter()
            self.faults: Counter[str] = Counter()

    def request(self, label: str, *, write: bool, search: bool) -> None:
        with self._lock:
            self.requests += 1
            self.by_route[label] += 1
            if write:
                self.write_requests += 1
                self.writes_by_route[label] += 1
            if search:
                self.search_requests += 1

    def status(self, status: int) -> None:
        with self._lock:
            self.by_status[status] += 1

    def records(self, *, created: int = 0, updated: int = 0) -> None:
        with self._lock:
            self.records_created += created
            self.records_updated += updated

    def limited(self, policy: str) -> None:
        with self._lock:
            self.rate_limited += 1
            self.rate_limited_by_policy[policy] += 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self.faults[kind] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": self.requests,
                "by_route": dict(self.by_route),
                "by_status": {str(k): v for k, v in self.by_status.items()},
                "write_requests": self.write_requests,
                "writes_by_route": dict(self.writes_by_route),
                "search_requests": self.search_requests,
                "records_created": self.records_created,
                "records_updated": self.records_updated,
                "rate_limited": self.rate_limited,
                "rate_limited_by_policy": dict(self.rate_limited_by_policy),
                "faults": dict(self.faults),
            }


# --- rate windows -----------------------------------------------------------------------------


class RollingWindow:
    """At most `limit` accepted requests in any `seconds`-long window (a sliding log).

    Refused requests are not logged: a client that backs off after a 429 gets its next slot as
    soon as the oldest accepted request leaves the window.
    """

    def __init__(self, limit: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.seconds = seconds
        self.clock = clock
        self._log: deque[float] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._log and self._log[0] <= now - self.seconds:
            self._log.popleft()

    def acquire(self) -> tuple[bool, int]:
        """(accepted, remaining after this request)."""
        with self._lock:
            now = self.clock()
            self._expire(now)
            if len(self._log) >= self.limit:
                return False, 0
            self._log.append(now)
            return True, self.limit - len(self._log)

    def remaining(self) -> int:
        with self._lock:
            self._expire(self.clock())
            return max(0, self.limit - len(self._log))

    def reset(self) -> None:
        with self._lock:
            self._log.clear()


class DailyQuota:
    """A per-day request allowance. The sandbox's "day" runs from start (or the last reset)."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def acquire(self) -> tuple[bool, int]:
        with self._lock:
            if self.used >= self.limit:
                return False, 0
            self.used += 1
            return True, self.limit - self.used

    def remaining(self) -> int:
        with self._lock:
            return max(0, self.limit - self.used)


# --- faults -----------------------------------------------------------------------------------

FAULT_KINDS = ("429", "503", "slow", "reset", "lost_response")


@dataclass
class FaultPlan:
    """Injected misbehaviour, set through `POST /__sandbox__/faults`.

    Probabilities are drawn from one `random.Random(seed)` in request arrival order, so a client
    sending requests one after another sees the same faults on every run with the same seed.
    `sequence` forces the outcome of the next matching requests, in order ("429", "503", "slow",
    "reset", "lost_response", "ok"), before any probability is drawn.
    """

    seed: int | None = None
    rate_429: float = 0.0
    retry_after: float | None = None  # seconds; None = a 429 without Retry-After
    rate_503: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 0.0
    rate_reset: float = 0.0  # connection reset before the request is processed
    rate_lost_response: float = 0.0  # processed, then the connection is reset (answer lost)
    sequence: list[str] = field(default_factory=list)
    path: str | None = None  # regex searched in the path; None = every API path
    methods: list[str] | None = None
    # Per-record errors: records whose id, external id / unique key or any property value is
    # listed fail with `message`; the rest of the batch succeeds.
    record_error_keys: list[str] = field(default_factory=list)
    record_error_message: str = "Injected error for this record."

    @classmethod
    def from_json(cls, data: dict) -> FaultPlan:
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known - {"record_errors"}
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        data = dict(data)
        record_errors = data.pop("record_errors", None)
        if record_errors:
            data["record_error_keys"] = [str(k) for k in record_errors.get("keys", [])]
            if record_errors.get("message"):
                data["record_error_message"] = record_errors["message"]
        plan = cls(**data)
        for outcome in plan.sequence:
            if outcome not in (*FAULT_KINDS, "ok"):
                raise ValueError(f"unknown outcome in sequence: {outcome}")
        if plan.path is not None:
            re.compile(plan.path)
        return plan

    def to_json(self) -> dict:
        return {
            "seed": self.seed,
            "rate_429": self.rate_429,
            "retry_after": self.retry_after,
            "rate_503": self.rate_503,
            "rate_slow": self.rate_slow,
            "slow_seconds": self.slow_seconds,
            "rate_reset": self.rate_reset,
            "rate_lost_response": self.rate_lost_response,
            "sequence": list(self.sequence),
            "path": self.path,
            "methods": self.methods,
            "record_errors": {
                "keys": list(self.record_error_keys),
                "message": self.record_error_message,
            },
        }


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.set(FaultPlan())

    def set(self, plan: FaultPlan) -> None:
        with self._lock:
            self.plan = plan
            self._random = random.Random(plan.seed)
            self._sequence = deque(plan.sequence)

    def applies(self, request: Request) -> bool:
        plan = self.plan
        if plan.methods and request.method not in {m.upper() for m in plan.methods}:
            return False
        return not (plan.path and not re.search(plan.path, request.path))

    def draw(self, request: Request) -> str | None:
        """The fault for this request, or None."""
        with self._lock:
            if not self.applies(request):
                return None
            if self._sequence:
                outcome = self._sequence.popleft()
                return None if outcome == "ok" else outcome
            plan = self.plan
            roll = self._random.random()
            for kind, rate in (
                ("429", plan.rate_429),
                ("503", plan.rate_503),
                ("reset", plan.rate_reset),
                ("lost_response", plan.rate_lost_response),
                ("slow", plan.rate_slow),
            ):
                if roll < rate:
                    return kind
                roll -= rate
            return None

    def record_fails(self, *values: Any) -> bool:
        keys = self.plan.record_error_keys
        if not keys:
            return False
        return any(value is not None and str(value) in keys for value in values)


def seed_summary(ids: dict[str, list[str]], listed: int = 1000) -> dict:
    """Counts and id ranges of seeded records; the ids themselves for small seeds."""
    return {
        "counts": {kind: len(values) for kind, values in ids.items()},
        "first_ids": {kind: values[0] for kind, values in ids.items() if values},
        "last_ids": {kind: values[-1] for kind, values in ids.items() if values},
        "ids": {kind: values for kind, values in ids.items() if len(values) <= listed},
    }


# --- the application base ---------------------------------------------------------------------


class SandboxApp:
    """Routing, hooks, counters and faults; the HubSpot and Salesforce apps add their API."""

    kind = "base"
    label_keep: set[str] = set()

    def __init__(self) -> None:
        self.lock = threading.RLock()  # guards the store
        self.counters = Counters()
        self.faults = FaultInjector()
        self.router = Router(self.label_keep)
        self.hooks = Router(set())
        self.base_url = ""
        self.hooks.add("POST", "/__sandbox__/reset", self.hook_reset)
        self.hooks.add("GET", "/__sandbox__/counters", self.hook_counters)
        self.hooks.add("POST", "/__sandbox__/counters/reset", self.hook_counters_reset)
        self.hooks.add("GET", "/__sandbox__/faults", self.hook_faults_get)
        self.hooks.add("POST", "/__sandbox__/faults", self.hook_faults_set)
        self.hooks.add("DELETE", "/__sandbox__/faults", self.hook_faults_clear)
        self.hooks.add("GET", "/__sandbox__/health", lambda request: Response(200, {"ok": True}))

    # The subclass answers these.
    def api_response(self, route: Route, request: Request) -> Response:  # pragma: no cover
        raise NotImplementedError

    def fault_429(self) -> Response:  # pragma: no cover
        raise NotImplementedError

    def fault_503(self) -> Response:  # pragma: no cover
        raise NotImplementedError

    def not_found(self, request: Request) -> Response:  # pragma: no cover
        raise NotImplementedError

    def reset_store(self) -> None:  # pragma: no cover
        raise NotImplementedError

    # --- dispatch ---

    def handle(self, request: Request) -> Response | ResetConnection:
        if request.path.startswith(HOOK_PREFIX):
            return self.handle_hook(request)
        route, params, _known = self.router.match(request.method, request.path)
        request.params = params
        label = route.label(params, self.label_keep) if route else f"{request.method} <unknown>"
        self.counters.request(
            label, write=bool(route and route.write), search=bool(route and route.search)
        )
        fault = self.faults.draw(request)
        if fault:
            self.counters.fault(fault)
        if fault == "reset":
            return RESET
        if fault == "slow":
            time.sleep(self.faults.plan.slow_seconds)
        if fault == "429":
            response = self.fault_429()
            self.counters.limited("FAULT")
        elif fault == "503":
            response = self.fault_503()
        elif route is None:
            response = self.not_found(request)
        else:
            try:
                response = self.api_response(route, request)
            except BadJson as error:
                response = self.bad_json(str(error))
        self.counters.status(response.status)
        if fault == "lost_response":
            return RESET
        return response

    def bad_json(self, message: str) -> Response:  # pragma: no cover
        raise NotImplementedError

    def handle_hook(self, request: Request) -> Response:
        route, params, known = self.hooks.match(request.method, request.path)
        if route is None:
            return Response(405 if known else 404, {"error": "no such sandbox hook"})
        request.params = params
        try:
            return route.handler(request)
        except (ValueError, TypeError, KeyError) as error:
            return Response(400, {"error": str(error)})

    # --- common hooks ---

    def hook_reset(self, request: Request) -> Response:
        with self.lock:
            self.reset_store()
        self.counters.reset()
        self.faults.set(FaultPlan())
        return Response(200, {"ok": True})

    def hook_counters(self, request: Request) -> Response:
        return Response(200, self.counters.snapshot())

    def hook_counters_reset(self, request: Request) -> Response:
        self.counters.reset()
        return Response(200, {"ok": True})

    def hook_faults_get(self, request: Request) -> Response:
        return Response(200, self.faults.plan.to_json())

    def hook_faults_set(self, request: Request) -> Response:
        plan = FaultPlan.from_json(request.json() or {})
        self.faults.set(plan)
        return Response(200, plan.to_json())

    def hook_faults_clear(self, request: Request) -> Response:
        self.faults.set(FaultPlan())
        return Response(200, {"ok": True})


# --- HTTP server ------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        outcome = self.server.app.handle(request)
        if isinstance(outcome, ResetConnection):
            self._reset()
            return
        payload = outcome.encoded()
        self.send_response(outcome.status)
        if outcome.body is not None:
            self.send_header("Content-Type", outcome.content_type)
        for name, value in outcome.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        # Headers and body leave in one write: two small writes would wait on Nagle's algorithm
        # and the client's delayed ACK (about 40 ms an answer).
        self._headers_buffer.append(b"\r\n" + payload)
        self.flush_headers()

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN: the client sees
        # "connection reset by peer", as when a load balancer drops a connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: SandboxApp, *, verbose: bool = False):
        self.app = app
        self.verbose = verbose
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        app.base_url = f"http://{host}:{port}"

    def handle_error(self, request, client_address) -> None:
        """A client that went away (a worker killed mid-request) is no error of the CRM's:
        no traceback for it. Anything else is printed as the standard library does."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
