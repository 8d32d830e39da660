"""The steps of a CSV import, the same for every kind of file (accounts_app.imports.kinds says
what differs): the services that store, check, confirm and import a file, which the admin and
the Celery tasks call.

Ops upload a file in the admin (csv_import_create); a task checks it without saving
anything (csv_import_check: counts of new, updated, unchanged rows, and every problem by line
and column); ops confirm (csv_import_confirm: the whole file, or its valid rows only); a task
imports it in one transaction (csv_import_run). Every row goes through its kind's reader, the one
home of its rules, in both steps.
"""

import csv
import datetime
import logging

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts_app.imports.accounts import ACCOUNTS
from accounts_app.imports.activities import ACTIVITIES
from accounts_app.imports.files import CsvRows, RowResult, Unreadable, detect_encoding, open_text
from accounts_app.imports.kinds import ImportKindRules
from accounts_app.models import CsvImport, CsvImportProblem, ImportChoice, ImportState
from core.errors import Invalid, NotAllowed

logger = logging.getLogger(__name__)

KINDS: dict[str, ImportKindRules] = {rules.kind: rules for rules in (ACCOUNTS, ACTIVITIES)}
CHANGED_MEANING_SHOWN = 20


def kind_rules(csv_import: CsvImport) -> ImportKindRules:
    return KINDS[csv_import.kind]


def too_large(size: int) -> str:
    limit = settings.CSV_IMPORT_MAX_BYTES
    return (
        f"This file is {filesizeformat(size)}; at most {filesizeformat(limit)} can be imported "
        "at once. Split it into smaller files and import them one after the other."
    )


def csv_import_create(*, file, by, kind: str) -> CsvImport:
    """Store an uploaded file of `kind` (accounts_app.models.ImportKind) and queue its check.
    `file` is an UploadedFile (or any object with `name`, `size` and `chunks()`)."""
    rules = KINDS[kind]
    rules.require_importer(by)
    if file.size > settings.CSV_IMPORT_MAX_BYTES:
        raise Invalid(too_large(file.size), field="import_file")
    if not file.size:
        raise Invalid(rules.empty, field="import_file")
    data = b"".join(file.chunks())
    binary = connection.vendor == "postgresql"
    with transaction.atomic():
        csv_import = CsvImport.objects.create(
            kind=kind,
            uploaded_by=by,
            file_name=(file.name or f"{rules.plural}.csv")[:255],
            size=len(data),
            data=b"" if binary else data,
            heartbeat_at=timezone.now(),
        )
        if binary:
            _write_file(csv_import.pk, data)
        pk = csv_import.pk
        transaction.on_commit(lambda: _queue("check", pk))
    return csv_import


def _write_file(pk: int, data: bytes) -> None:
    """The file's bytes as a binary parameter, on a psycopg cursor of the same connection and
    transaction. Django's cursors bind on the client, which sends bytea as hex text: twice the
    size, and three to four times slower for a file of 10 MB (about 1 s on the benchmark's
    busy machine, most of the upload request)."""
    import psycopg

    table = connection.ops.quote_name(CsvImport._meta.db_table)
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(f"UPDATE {table} SET data = %b WHERE id = %s", [data, pk])


def _queue(step: str, pk: int) -> None:
    from kombu.exceptions import OperationalError

    from accounts_app import tasks

    task = tasks.check_csv_import if step == "check" else tasks.run_csv_import
    try:
        task.delay(pk)
    except (OperationalError, ConnectionError, OSError) as error:
        # The broker is down: the import keeps its state and csv_imports_resume queues it.
        logger.warning("Could not queue %s for import %s: %s", task.name, pk, error)


class _Replaced(Exception):
    """Another run of the same step took over (this one's worker was thought dead)."""


class _ChangedMeaning(Exception):
    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems)
        self.problems = problems


def _claim(pk: int, state: str) -> int | None:
    """Start a run of the step `state`: its attempt number, or None if there is nothing to do
    (the step is over) or it has been tried too often (then the import fails)."""
    with transaction.atomic():
        csv_import = CsvImport.objects.select_for_update().defer("data").get(pk=pk)
        if csv_import.state != state:
            return None
        if csv_import.attempts >= settings.CSV_IMPORT_MAX_ATTEMPTS:
            csv_import.state = ImportState.FAILED
            csv_import.message = (
                f"The {'check' if state == ImportState.CHECKING else 'import'} stopped "
                f"{csv_import.attempts} times without finishing, so nothing was imported. "
                "Try a smaller file, or ask whoever runs Accord to look at the workers."
            )
            csv_import.finished_at = timezone.now()
            csv_import.save(update_fields=["state", "message", "finished_at"])
            return None
        csv_import.attempts += 1
        csv_import.heartbeat_at = timezone.now()
        csv_import.save(update_fields=["attempts", "heartbeat_at"])
        return csv_import.attempts


def _mine(pk: int, state: str, attempt: int):
    return CsvImport.objects.filter(pk=pk, state=state, attempts=attempt)


def _batches(rows, size: int):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _open_rows(csv_import: CsvImport) -> tuple[CsvRows | None, str, list[str]]:
    """The file's rows, its encoding, and the problems that stop the whole file."""
    data = bytes(csv_import.data)
    try:
        encoding = detect_encoding(data)
    except Unreadable as error:
        return None, "", [error.message]
    rows = CsvRows(open_text(data, encoding))
    try:
        headers = rows.read_header()
    except csv.Error as error:
        return None, encoding, [f"line 1: this is not a CSV file Accord can read ({error})."]
    return rows, encoding, kind_rules(csv_import).header_problems(headers, line=rows.header_line)


def _estimated_rows(data) -> int:
    # Line feeds: about the number of rows (a little more: the header, blank lines, cells
    # spanning lines), known at once; the check's end sets the true number.
    return max(memoryview(data).tobytes().count(b"\n"), 1)


def _error_lines(result: RowResult, line: int) -> list[tuple[int, str, str]]:
    return [(line, column, message) for column, message in result.errors.items()]


def csv_import_check(*, csv_import: CsvImport) -> CsvImport:
    """Check a stored file without saving anything of it.

    1. Claim the check: each run takes the next attempt; a run whose worker died is run again
       from the start (redelivered, or queued by csv_imports_resume), and an older run
       that wakes up finds a later attempt and stops.
    2. Detect the encoding and read the header: a problem there ends the check (failed).
    3. Read the rows in batches with the kind's reader; count each valid row as new, updated or
       unchanged against what is in Accord; store each batch's problems with the progress
       in one short transaction, guarded by the attempt.
    4. Checked, with the counts; or failed when the file has no row at all.
    """
    pk = csv_import.pk
    attempt = _claim(pk, ImportState.CHECKING)
    if attempt is None:
        return CsvImport.objects.defer("data").get(pk=pk)
    csv_import = CsvImport.objects.get(pk=pk)
    started = timezone.now()
    estimate = _estimated_rows(csv_import.data)
    with transaction.atomic():
        csv_import.problems.all().delete()
        _mine(pk, ImportState.CHECKING, attempt).update(
            check_started_at=started, done=0, total=estimate
        )
    rows, encoding, file_problems = _open_rows(csv_import)
    if file_problems:
        return _finish_check(pk, attempt, encoding=encoding, message=" ".join(file_problems))
    rules = kind_rules(csv_import)
    reader = rules.reader(csv_import)
    counts = {"rows": 0, "new": 0, "updated": 0, "unchanged": 0, "error_rows": 0}
    try:
        for batch in _batches(rows, settings.CSV_IMPORT_BATCH_SIZE):
            problems, valid = [], []
            for row, result in zip(batch, reader.read(batch), strict=True):
                counts["rows"] += 1
                if result.errors:
                    counts["error_rows"] += 1
                    problems.extend(_error_lines(result, row.line))
                else:
                    valid.append((row, result))
            for outcome, count in reader.count(valid).items():
                counts[outcome] += count
            with transaction.atomic():
                if not _mine(pk, ImportState.CHECKING, attempt).update(
                    done=counts["rows"],
                    total=max(estimate, counts["rows"]),
                    heartbeat_at=timezone.now(),
                ):
                    raise _Replaced
                CsvImportProblem.objects.bulk_create(
                    CsvImportProblem(csv_import_id=pk, line=line, column=column, message=m)
                    for line, column, m in problems
                )
    except _Replaced:
        return CsvImport.objects.defer("data").get(pk=pk)
    except csv.Error as error:
        message = f"line {rows.next_line}: this is not a CSV file Accord can read ({error})."
        return _finish_check(pk, attempt, encoding=encoding, message=message)
    if not counts["rows"]:
        return _finish_check(pk, attempt, encoding=encoding, message=rules.no_rows)
    return _finish_check(pk, attempt, encoding=encoding, **counts)


def _finish_check(pk: int, attempt: int, *, encoding: str, message: str = "", **counts):
    now = timezone.now()
    if message:
        update = {"state": ImportState.FAILED, "message": message, "finished_at": now}
    else:
        update = {"state": ImportState.CHECKED, **counts}
        update["done"] = update["total"] = counts["rows"]
    _mine(pk, ImportState.CHECKING, attempt).update(encoding=encoding, heartbeat_at=now, **update)
    return CsvImport.objects.defer("data").get(pk=pk)


def csv_import_confirm(*, csv_import: CsvImport, by, choice: str) -> CsvImport:
    """The uploader confirms a checked file: "all" (only for a file without errors) or "valid"
    (its valid rows only, for a file with errors). Anything else is refused, so a replayed or
    forged form never imports what was not checked and chosen."""
    if not kind_rules(csv_import).can_import(by) or csv_import.uploaded_by_id != by.pk:
        raise NotAllowed("Only the person who uploaded this file can import it.")
    if choice not in ImportChoice.values:
        raise Invalid("Choose to import the file, or its valid rows only.", field="choice")
    with transaction.atomic():
        locked = CsvImport.objects.select_for_update().defer("data").get(pk=csv_import.pk)
        if locked.state != ImportState.CHECKED:
            raise Invalid(
                f"This file is {locked.get_state_display().lower()}; only a checked file "
                "waiting for confirmation can be imported.",
                field="import_id",
            )
        valid_rows = locked.new + locked.updated + locked.unchanged
        if choice == ImportChoice.ALL and locked.error_rows:
            raise Invalid("Nothing was imported: the file has errors.", field="choice")
        if choice == ImportChoice.VALID_ROWS_ONLY and not locked.error_rows:
            raise Invalid("The file has no errors: import all of it.", field="choice")
        if not valid_rows:
            raise Invalid("The file has no valid row to import.", field="choice")
        locked.state = ImportState.IMPORTING
        locked.choice = choice
        locked.attempts = 0
        locked.done, locked.total = 0, valid_rows
        locked.heartbeat_at = timezone.now()
        locked.save(update_fields=["state", "choice", "attempts", "done", "total", "heartbeat_at"])
        transaction.on_commit(lambda: _queue("run", locked.pk))
    return locked


class _Progress:
    """Writes an import's progress outside the import's transaction, on a connection of its own,
    so that the page sees it before the commit. Not on SQLite: there a second writer would wait
    for the first (and the embedded run imports inside the request anyway)."""

    def __init__(self, pk: int, attempt: int) -> None:
        self.pk, self.attempt = pk, attempt
        self.connection = None
        if connection.vendor != "sqlite":
            self.connection = connections.create_connection(DEFAULT_DB_ALIAS)

    def write(self, done: int) -> None:
        if self.connection is None:
            return
        table = self.connection.ops.quote_name(CsvImport._meta.db_table)
        with self.connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET done = %s, heartbeat_at = %s WHERE id = %s AND attempts = %s",
                [done, timezone.now(), self.pk, self.attempt],
            )

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def csv_import_run(*, csv_import: CsvImport) -> CsvImport:
    """Import a checked file as ops chose, in one transaction.

    One transaction rather than resumable batches: PostgreSQL holds 100,000 inserts in one
    transaction without trouble, and then a failure anywhere (a row the database refuses, a
    domain someone added meanwhile, the worker dying) leaves Accord exactly as it was, and the
    import can simply run again from the start: the task is acknowledged late and given back
    to the queue when its worker dies, and csv_imports_resume queues it when it stalls.
    Resumable batches would show a half-imported file to everyone until the last batch, and
    could not undo the first batches when a later one fails.

    1. Claim the run (the next attempt, as in the check).
    2. Read the file again with its kind's reader: rules and data may have changed since the
       check. A row that reads differently (a new problem, a problem gone, an account someone
       added to Accord since) is reported and nothing is imported.
    3. Per batch: the kind's reader writes the valid rows (accounts_app.imports.accounts,
       .activities say how). Progress goes out on a second connection.
    4. Done with the counts, in the same transaction, guarded by the attempt.
    """
    pk = csv_import.pk
    attempt = _claim(pk, ImportState.IMPORTING)
    if attempt is None:
        return CsvImport.objects.defer("data").get(pk=pk)
    csv_import = CsvImport.objects.get(pk=pk)
    progress = _Progress(pk, attempt)
    try:
        with transaction.atomic():
            counts = _import_rows(csv_import, progress)
            if not _mine(pk, ImportState.IMPORTING, attempt).update(
                state=ImportState.DONE,
                done=csv_import.total,
                finished_at=timezone.now(),
                heartbeat_at=timezone.now(),
                **counts,
            ):
                raise _Replaced
    except _Replaced:
        pass
    except _ChangedMeaning as changed:
        shown = changed.problems[:CHANGED_MEANING_SHOWN]
        more = len(changed.problems) - len(shown)
        message = (
            "Nothing was imported: the file no longer reads as it did when it was checked. "
            + " ".join(shown)
            + (f" … and {more} more." if more > 0 else "")
            + " Upload it again to check it anew."
        )
        _fail(pk, attempt, message)
    except IntegrityError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        _fail(
            pk,
            attempt,
            "Nothing was imported: the database refused a row"
            + (f" ({first_line[:200]})" if first_line else "")
            + f". {kind_rules(csv_import).refused_row} Upload the file again to check it anew.",
        )
    finally:
        progress.close()
    return CsvImport.objects.defer("data").get(pk=pk)


def _fail(pk: int, attempt: int, message: str) -> None:
    _mine(pk, ImportState.IMPORTING, attempt).update(
        state=ImportState.FAILED, message=message, finished_at=timezone.now()
    )


def _import_rows(csv_import: CsvImport, progress: _Progress) -> dict:
    rows, _, file_problems = _open_rows(csv_import)
    if file_problems:
        raise _ChangedMeaning(file_problems)
    rules = kind_rules(csv_import)
    reader = rules.reader(csv_import)
    valid_only = csv_import.choice == ImportChoice.VALID_ROWS_ONLY
    checked_errors = set(csv_import.problems.values_list("line", flat=True).distinct())
    counts = {"new": 0, "updated": 0, "unchanged": 0, "error_rows": 0}
    changed_meaning: list[str] = []
    done = 0
    for batch in _batches(rows, settings.CSV_IMPORT_BATCH_SIZE):
        changed: list[tuple[int, str]] = []  # (line, problem) of this batch
        valid = []
        for row, result in zip(batch, reader.read(batch), strict=True):
            if result.errors:
                counts["error_rows"] += 1
                if row.line not in checked_errors or not valid_only:
                    changed.extend(
                        (line, f"line {line}{f', column {column}' if column else ''}: {message}")
                        for line, column, message in _error_lines(result, row.line)
                    )
            elif row.line in checked_errors:
                changed.append(
                    (row.line, f"line {row.line}: had errors when checked and has none now.")
                )
            else:
                valid.append((row, result))
        changed.extend(reader.changed_since(valid, since=csv_import.check_started_at))
        # In the order of the file's lines, whichever way each changed.
        changed_meaning.extend(problem for _, problem in sorted(changed, key=lambda c: c[0]))
        if changed_meaning:
            continue  # read on, to report every row that changed, but write nothing more
        for outcome, count in reader.write(valid).items():
            counts[outcome] += count
        done += len(valid)
        progress.write(min(done, csv_import.total))
    if changed_meaning:
        raise _ChangedMeaning(changed_meaning)
    if counts["new"] != csv_import.new:
        raise _ChangedMeaning([rules.new_count_changed(checked=csv_import.new, now=counts["new"])])
    return counts


def csv_imports_resume() -> int:
    """Queue again the checks and imports whose worker stopped without finishing (a task that
    was lost, or a broker down when it was queued): those with no progress for
    CSV_IMPORT_STALE_SECONDS. A run that is merely slow is harmless to queue twice: the
    later attempt takes over, the earlier one stops. Returns how many were queued."""
    cutoff = timezone.now() - datetime.timedelta(seconds=settings.CSV_IMPORT_STALE_SECONDS)
    stalled = list(
        CsvImport.objects.filter(
            state__in=[ImportState.CHECKING, ImportState.IMPORTING], heartbeat_at__lt=cutoff
        ).values_list("pk", "state")
    )
    for pk, state in stalled:
        _queue("check" if state == ImportState.CHECKING else "run", pk)
    return len(stalled)
