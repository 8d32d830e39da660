"""Local CRM sandboxes: HubSpot- and Salesforce-compatible HTTP servers on loopback.

Three ways to start one:

- `python manage.py crm_sandbox --kind hubspot --port 8090` (or `python -m crm.sandbox ...`);
- in a test, `with run_sandbox("hubspot", rate_limit=20) as sandbox: ...` serves from a
  background thread and yields a handle with `.url`, `.app` (the in-memory CRM) and `.hook()`;
- as a subprocess: `python -m crm.sandbox --kind salesforce --port 0` prints
  `CRM sandbox (salesforce) listening on http://127.0.0.1:PORT` once it accepts connections.

See docs/crm-sandbox.md for what each server implements and the `/__sandbox__/` test hooks.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from .core import FaultPlan, SandboxApp, SandboxHTTPServer
from .hubspot import HubSpotConfig, HubSpotSandbox
from .salesforce import SalesforceConfig, SalesforceSandbox

KINDS = ("hubspot", "salesforce")

__all__ = [
    "KINDS",
    "FaultPlan",
    "HubSpotConfig",
    "HubSpotSandbox",
    "SalesforceConfig",
    "SalesforceSandbox",
    "SandboxHandle",
    "build_app",
    "run_sandbox",
    "start_sandbox",
]


def build_app(kind: str, **options: Any) -> SandboxApp:
    """A sandbox app of `kind`; options are the fields of HubSpotConfig / SalesforceConfig."""
    if kind == "hubspot":
        config_class, app_class = HubSpotConfig, HubSpotSandbox
    elif kind == "salesforce":
        config_class, app_class = SalesforceConfig, SalesforceSandbox
    else:
        raise ValueError(f"unknown sandbox kind {kind!r}; use one of {', '.join(KINDS)}")
    known = {f.name for f in fields(config_class)}
    unknown = set(options) - known
    if unknown:
        raise TypeError(f"unknown {kind} sandbox options: {', '.join(sorted(unknown))}")
    return app_class(config_class(**options))


class SandboxHandle:
    """A running sandbox: its base URL, the app behind it, and the hooks as plain calls."""

    def __init__(self, server: SandboxHTTPServer, thread: threading.Thread):
        self.server = server
        self.thread = thread
        self.app = server.app
        self.url = server.app.base_url

    def hook(self, method: str, path: str, body: Any = None) -> Any:
        """Call `/__sandbox__/<path>` and return its JSON (no rate limit, no faults)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/__sandbox__/{path.lstrip('/')}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def counters(self) -> dict:
        return self.app.counters.snapshot()

    def set_faults(self, **plan: Any) -> dict:
        return self.hook("POST", "faults", plan)

    def clear_faults(self) -> None:
        self.hook("DELETE", "faults")

    def seed(self, **spec: Any) -> dict:
        return self.hook("POST", "seed", spec)

    def objects(self, object_type: str) -> dict:
        return self.hook("GET", f"objects/{object_type}")

    def reset(self) -> None:
        self.hook("POST", "reset")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def start_sandbox(
    kind: str, *, host: str = "127.0.0.1", port: int = 0, verbose: bool = False, **options: Any
) -> SandboxHandle:
    """Serve a sandbox from a daemon thread; port 0 picks a free port. Call `.stop()` after."""
    app = build_app(kind, verbose=verbose, **options)
    server = SandboxHTTPServer((host, port), app, verbose=verbose)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    return SandboxHandle(server, thread)


@contextmanager
def run_sandbox(kind: str, port: int = 0, **options: Any) -> Iterator[SandboxHandle]:
    """`with run_sandbox("hubspot", rate_limit=190) as sandbox:` → sandbox.url, sandbox.app."""
    handle = start_sandbox(kind, port=port, **options)
    try:
        yield handle
    finally:
        handle.stop()
