#!/usr/bin/env python3
"""The restore drill: prove a backup of Accord's database can be restored and served.

    python ops/restore_drill.py                       # the database in DATABASE_URL
    python ops/restore_drill.py --source postgres://accord@db:5432/accord --keep

1. `pg_dump --format=custom` the source database (what the nightly backup does,
   docs/operations.md "Backups") into a file, or use --dump FILE, an existing backup.
2. Create a new, empty database next to it (`<source>_restore_drill_<time>`, or --target) and
   `pg_restore --no-owner --no-privileges --exit-on-error` the dump into it.
3. Compare the rows of every table of the two databases (with --dump, only that the restored
   tables are not all empty).
4. Run Accord on the restored copy, in a process of its own with DATABASE_URL pointing at it:
   no migration is missing (`migrate --check`), /healthz finds the database, and a signed-in
   person's queue page and the API's list of cycles answer 200.
5. Drop the copy (unless --keep) and print the outcome as JSON; exit 0 only when all passed.

It needs pg_dump, pg_restore and a role that may create databases. The running site is not
touched: the dump is a consistent snapshot taken while it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent

# Run inside Accord, on the restored database (step 4). Prints one JSON object.
CHECK = r"""
import json
from io import StringIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client

result = {}
try:
    call_command("migrate", check=True, stdout=StringIO(), verbosity=0)
    result["migrations"] = "OK"
except SystemExit:
    result["migrations"] = "missing"
hosts = [h for h in settings.ALLOWED_HOSTS if h not in ("*", "")] or ["localhost"]
host = hosts[0].lstrip(".")
client = Client(HTTP_HOST=host, REMOTE_ADDR="127.0.0.1")
secure = bool(getattr(settings, "SECURE_SSL_REDIRECT", False))
health = client.get("/healthz", secure=secure)
result["healthz_database"] = health.json()["checks"]["database"]
person = (
    get_user_model().objects.filter(is_active=True, groups__name__in=["marketing", "sales", "ops"])
    .order_by("pk").first()
)
if person is None:
    result["signed_in_pages"] = "no person to sign in as"
else:
    client.force_login(person)
    answers = {
        path: client.get(path, secure=secure).status_code for path in ("/", "/api/v1/cycles/")
    }
    result["signed_in_pages"] = "OK" if set(answers.values()) == {200} else answers
print(json.dumps(result))
"""


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def run(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kwargs)


def table_rows(url: str) -> dict[str, int]:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            )
        ]
        return {
            table: connection.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()[0]
            for table in tables
        }


def admin(url: str, statement) -> None:
    """CREATE or DROP DATABASE, from the server's maintenance database."""
    import psycopg

    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
        connection.execute(statement)


def drill(*, source: str, target: str, dump: Path | None, keep: bool) -> dict:
    from psycopg import sql

    outcome: dict = {"source": database_of(source), "target": database_of(target)}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="accord-restore-drill-") as scratch:
        dumped = dump is None
        if dump is None:
            dump = Path(scratch) / "accord.dump"
            run("pg_dump", "--format=custom", f"--file={dump}", f"--dbname={source}")
            outcome["dump_seconds"] = round(time.monotonic() - started, 2)
        outcome["dump_bytes"] = dump.stat().st_size
        admin(source, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database_of(target))))
        try:
            restoring = time.monotonic()
            run(
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                f"--dbname={target}",
                str(dump),
            )
            outcome["restore_seconds"] = round(time.monotonic() - restoring, 2)

            restored = table_rows(target)
            if dumped:
                original = table_rows(source)
                differ = {
                    table: {"source": original.get(table), "restored": restored.get(table)}
                    for table in sorted(set(original) | set(restored))
                    if original.get(table) != restored.get(table)
                }
                outcome["rows"] = differ or "OK"
            else:
                outcome["rows"] = "OK" if any(restored.values()) else "every table is empty"
            outcome["tables"], outcome["total_rows"] = len(restored), sum(restored.values())

            env = {**os.environ, "DATABASE_URL": target, "CONN_MAX_AGE": "0"}
            env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
            check = subprocess.run(
                [sys.executable, "manage.py", "shell", "--no-imports", "-c", CHECK],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            if check.returncode != 0:
                outcome["accord"] = f"failed: {check.stderr.strip().splitlines()[-1:]}"
            else:
                outcome.update(json.loads(check.stdout.strip().splitlines()[-1]))
        finally:
            if not keep:
                admin(
                    source,
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                        sql.Identifier(database_of(target))
                    ),
                )
                outcome["dropped"] = True
    outcome["seconds"] = round(time.monotonic() - started, 2)
    checks = ("rows", "migrations", "healthz_database", "signed_in_pages")
    outcome["passed"] = all(outcome.get(name) == "OK" for name in checks)
    return outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", default=os.environ.get("DATABASE_URL", ""))
    parser.add_argument("--dump", type=Path, help="restore this pg_dump --format=custom file")
    parser.add_argument("--target", help="the new database's name")
    parser.add_argument("--keep", action="store_true", help="keep the restored copy")
    args = parser.parse_args()
    if not args.source.startswith(("postgres://", "postgresql://")):
        parser.error("--source (or DATABASE_URL) must be a postgres:// URL")
    for tool in ("pg_dump", "pg_restore"):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed")
    stamp = time.strftime("%Y%m%d%H%M%S")
    name = args.target or f"{database_of(args.source)}_restore_drill_{stamp}"
    outcome = drill(
        source=args.source, target=with_database(args.source, name), dump=args.dump, keep=args.keep
    )
    print(json.dumps(outcome, indent=2))
    return 0 if outcome["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
