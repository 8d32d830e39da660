#!/usr/bin/env python3
"""The two commands of the README, for a fresh machine with only Python 3.11+.

    python3 dev.py run     # environment, migrations, demo data, site on http://127.0.0.1:8000
    python3 dev.py run 8123   # the same on port 8123 (its links and e-mails point there too)
    python3 dev.py test    # environment with the dev extra, lint, the whole test suite

The environment lives in .venv and is reinstalled only when pyproject.toml changes.
"""

import hashlib
import os
import socket
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def sh(*args, env=None, check=True) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=check).returncode


def ensure_env(*, dev: bool) -> None:
    if sys.version_info < (3, 11):
        sys.exit("Accord needs Python 3.11 or newer.")
    digest = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints-build.txt").read_bytes()
    ).hexdigest()
    stamp = VENV / ".accord-installed"
    have = stamp.read_text() if stamp.exists() else ""
    if have == f"{digest}:dev" or (have == f"{digest}:base" and not dev):
        return
    if not PY.exists():
        print(f"Creating {VENV} …", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    # xstatic-bootstrap builds from an sdist that needs setuptools < 81 (see the file).
    env = {**os.environ, "PIP_CONSTRAINT": str(ROOT / "constraints-build.txt")}
    sh(
        PY,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-e",
        ".[dev]" if dev else ".",
        env=env,
    )
    stamp.write_text(f"{digest}:{'dev' if dev else 'base'}")


def manage(*args, env=None) -> int:
    return sh(PY, "manage.py", *args, env=env)


SANDBOX_PORT = int(os.environ.get("ACCORD_SANDBOX_PORT", "8765"))
SANDBOX_TOKEN = "accord-demo-sandbox-token"


def site_env(port: str, environ: dict) -> dict:
    """The environment of the run on `port`: SITE_URL (links in e-mails and the demo's sign-in
    hints) points at that port unless SITE_URL is set already."""
    if not port.isdigit() or not 0 < int(port) < 65536:
        sys.exit(f"“{port}” is not a port number: python3 dev.py run [PORT], e.g. 8123.")
    return {"SITE_URL": f"http://127.0.0.1:{int(port)}", **environ}


def start_hubspot_sandbox(base_env: dict) -> tuple[subprocess.Popen, dict]:
    """The local HubSpot-compatible CRM the demo pushes to, on loopback (in memory: it starts
    empty, so the demo's agreed list is pushed to it again at every start)."""
    proc = subprocess.Popen(
        [
            str(PY),
            "manage.py",
            "crm_sandbox",
            "--kind",
            "hubspot",
            "--port",
            str(SANDBOX_PORT),
            "--token",
            SANDBOX_TOKEN,
        ],
        cwd=ROOT,
        env=base_env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", SANDBOX_PORT), timeout=0.5).close()
            break
        except OSError:
            if proc.poll() is not None:
                sys.exit(
                    f"The CRM sandbox could not start on port {SANDBOX_PORT} "
                    "(set ACCORD_SANDBOX_PORT to use another)."
                )
            time.sleep(0.2)
    env = {
        **base_env,
        "CRM_BACKEND": "hubspot",
        "HUBSPOT_BASE_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
        "HUBSPOT_ACCESS_TOKEN": SANDBOX_TOKEN,
    }
    return proc, env


def run(args: list[str]) -> None:
    port = args[0] if args else "8000"
    env = site_env(port, dict(os.environ))
    ensure_env(dev=False)
    manage("migrate", "--noinput", env=env)
    manage("demo_data", env=env)
    sandbox = puller = None
    if "CRM_BACKEND" not in os.environ:
        sandbox, env = start_hubspot_sandbox(env)
        manage("crm_setup", env=env)
        # The agreed lists are pushed to the sandbox, what a CRM knows of the demo's accounts
        # (contacts in buying roles, deals, both funnels' engagement) is put in it, and all is
        # pulled back, as a worker would: in the background, so the site is up meanwhile (it
        # takes a few seconds, most of them HubSpot's search rate limit).
        puller = subprocess.Popen(
            [str(PY), "manage.py", "crm_sandbox_demo", "--push", "--pull"], cwd=ROOT, env=env
        )
        print(
            f"CRM sandbox (HubSpot-compatible): http://127.0.0.1:{SANDBOX_PORT} "
            f"(token {SANDBOX_TOKEN}); approvals are pushed to it as they happen.",
            flush=True,
        )
    print(f"Accord: {env['SITE_URL']}/ (revenue operations: {env['SITE_URL']}/admin/)", flush=True)
    try:
        subprocess.run(
            [str(PY), "manage.py", "runserver", f"127.0.0.1:{int(port)}"], cwd=ROOT, env=env
        )
    except KeyboardInterrupt:
        pass
    finally:
        for process in (puller, sandbox):
            if process is not None and process.poll() is None:
                process.terminate()


def test(args: list[str]) -> None:
    ensure_env(dev=True)
    sh(BIN / "ruff", "check", ".")
    sh(BIN / "ruff", "format", "--check", ".")
    manage("makemigrations", "--check", "--dry-run")
    # Two processes by default (CI's machine has two cores); `-n 0` runs in one.
    workers = [] if any(a == "-n" or a.startswith("-n") for a in args) else ["-n", "2"]
    rc = sh(PY, "-m", "pytest", *workers, *args, check=False)
    sys.exit(rc)


def main() -> None:
    commands = {"run": run, "test": test}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
