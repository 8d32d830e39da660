"""Fault scripts: Accord in its production shape (PostgreSQL, Redis, gunicorn, Celery worker
and beat, the CRM over HTTP) put through one fault each, ending with PASS or FAIL (exit code 0
or 1). Results and the commands of the documented runs: docs/reliability.md, "Faults".

    python -m ops.faults postgres-restart   # PostgreSQL restarted under load
    python -m ops.faults redis-restart      # Redis restarted with pushes queued
    python -m ops.faults worker-kills       # a worker killed again and again during a big push
    python -m ops.faults crm-outage         # the CRM down for ten minutes (simulated clock)
    python -m ops.faults beat-stopped       # beat stopped for an hour

Each prints what it does, the checks of its verdict and the figures it measured. The defaults
are sized for CI (tests/faults/ runs each); the options give the documented sizes. Every script
but postgres-restart writes to a throw-away database it makes on DATABASE_URL's server (and
drops), or to --database-url, an empty migrated one; postgres-restart runs a PostgreSQL cluster
of its own, since it restarts it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

FAULTS = {
    "postgres-restart": "ops.faults.postgres_restart",
    "redis-restart": "ops.faults.redis_restart",
    "worker-kills": "ops.faults.worker_kills",
    "crm-outage": "ops.faults.crm_outage",
    "beat-stopped": "ops.faults.beat_stopped",
}


def main(argv: list[str] | None = None) -> int:
    from ops.faults.common import Checks, finish
    from ops.faults.rig import Rig

    parser = argparse.ArgumentParser(
        prog="python -m ops.faults", description=__doc__.split("\n\n")[0]
    )
    faults = parser.add_subparsers(dest="fault", required=True, metavar="FAULT")
    modules = {}
    for name, path in FAULTS.items():
        module = modules[name] = importlib.import_module(path)
        doc = module.__doc__ or name
        sub = faults.add_parser(
            name,
            help=doc.split("\n")[0],
            description=doc,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument(
            "--database-url",
            help="an empty, migrated Accord database the run may fill (default: a throw-away "
            "one made on DATABASE_URL's server, dropped at the end)",
        )
        sub.add_argument("--logs", type=Path, help="keep the processes' logs in this directory")
        sub.add_argument("--json", type=Path, help="also write the outcome to this file")
        module.add_arguments(sub)
    args = parser.parse_args(argv)
    module = modules[args.fault]
    print(f"== {args.fault}: {(module.__doc__ or '').strip().splitlines()[0]}", flush=True)
    checks = Checks()
    rig = Rig(args.logs)
    error = None
    try:
        module.run(args, rig, checks)
    except (Exception, KeyboardInterrupt) as caught:
        error = caught
    finally:
        rig.close()
    if args.logs:
        print(f"Logs: {args.logs}")
    return finish(args.fault, checks, error=error, json_path=args.json)


if __name__ == "__main__":
    sys.exit(main())
