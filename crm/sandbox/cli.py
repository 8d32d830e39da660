"""Command-line options shared by `manage.py crm_sandbox` and `python -m crm.sandbox`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .core import FaultPlan, SandboxHTTPServer

DEFAULT_PORTS = {"hubspot": 8090, "salesforce": 8091}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", choices=("hubspot", "salesforce"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port",
        type=int,
        default=None,
        help="port to listen on; 0 picks a free one (default 8090 hubspot, 8091 salesforce)",
    )
    parser.add_argument(
        "--token",
        default=None,
        help="bearer token accepted (HubSpot default 'sandbox-token'; for Salesforce an extra "
        "token accepted besides the OAuth ones)",
    )
    parser.add_argument(
        "--rate-limit", type=int, default=None, help="HubSpot: requests per window (default 100)"
    )
    parser.add_argument(
        "--rate-window-seconds",
        type=float,
        default=None,
        help="HubSpot: length of the rolling window (default 10)",
    )
    parser.add_argument(
        "--search-rate-limit",
        type=int,
        default=None,
        help="HubSpot: search requests per second (default 5)",
    )
    parser.add_argument(
        "--daily-limit",
        type=int,
        default=None,
        help="requests per day (HubSpot default 500000, Salesforce 100000)",
    )
    parser.add_argument("--client-id", default=None, help="Salesforce OAuth client id")
    parser.add_argument("--client-secret", default=None, help="Salesforce OAuth client secret")
    parser.add_argument(
        "--external-id-field",
        action="append",
        default=None,
        metavar="SOBJECT.FIELD",
        help="Salesforce external id field (repeatable; default Account.Accord_Account_Key__c)",
    )
    parser.add_argument(
        "--faults",
        default=None,
        metavar="JSON",
        help='fault plan as JSON, e.g. \'{"seed": 1, "rate_429": 0.3, "retry_after": 1}\'',
    )
    parser.add_argument(
        "--seed-data",
        default=None,
        metavar="JSON",
        help='records to load at start, e.g. \'{"companies": 100, "contacts": 500}\'',
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")


def options_from(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {"verbose": args.verbose}
    if args.token is not None:
        options["token"] = args.token
    if args.daily_limit is not None:
        options["daily_limit"] = args.daily_limit
    if args.kind == "hubspot":
        for name in ("rate_limit", "rate_window_seconds", "search_rate_limit"):
            if getattr(args, name) is not None:
                options[name] = getattr(args, name)
    else:
        if args.client_id is not None:
            options["client_id"] = args.client_id
        if args.client_secret is not None:
            options["client_secret"] = args.client_secret
        if args.external_id_field:
            fields: dict[str, list[str]] = {}
            for item in args.external_id_field:
                sobject, _, name = item.partition(".")
                if not name:
                    raise SystemExit(f"--external-id-field needs SOBJECT.FIELD, got {item!r}")
                fields.setdefault(sobject, []).append(name)
            options["external_id_fields"] = fields
    return options


def serve(args: argparse.Namespace, out=sys.stdout) -> None:
    """Start the server in the foreground until interrupted."""
    from . import build_app

    app = build_app(args.kind, **options_from(args))
    if args.faults:
        app.faults.set(FaultPlan.from_json(json.loads(args.faults)))
    if args.seed_data:
        with app.lock:
            app.seed(json.loads(args.seed_data))
    port = DEFAULT_PORTS[args.kind] if args.port is None else args.port
    server = SandboxHTTPServer((args.host, port), app, verbose=args.verbose)
    print(f"CRM sandbox ({args.kind}) listening on {app.base_url}", file=out, flush=True)
    if args.kind == "hubspot":
        print(
            f"  HUBSPOT_BASE_URL={app.base_url} HUBSPOT_ACCESS_TOKEN={app.config.token}",
            file=out,
            flush=True,
        )
    else:
        print(
            f"  SALESFORCE_LOGIN_URL={app.base_url} SALESFORCE_CLIENT_ID={app.config.client_id} "
            f"SALESFORCE_CLIENT_SECRET={app.config.client_secret}",
            file=out,
            flush=True,
        )
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m crm.sandbox", description="Run a local CRM sandbox server."
    )
    add_arguments(parser)
    serve(parser.parse_args(argv))
