"""The CSV import of accounts: reading a file (encodings, columns, the checks of one row in plain
words), and the services that check and import a stored file in Celery tasks.

Ops upload a file in the admin (csv_import_create); a task checks it without saving
anything (csv_import_check: counts of new, updated, unchanged rows, and every problem by line
and column); ops confirm (csv_import_confirm: the whole file, or its valid rows only); a task
imports it in one transaction (csv_import_run). Every row goes through `AccountRowReader`,
the one home of the row rules, in both steps; the fit score is accounts_app.scoring.fit_score
against the effective ideal customer profile, as account_create and account_update compute it;
changed accounts on an open list reach the CRM through crm.services.accounts_changed_record,
as account_update's do.
"""

import codecs
import contextlib
import csv
import datetime
import io
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.template.defaultfilters import filesizeformat
from django.utils import timezone

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.models import (
    Account,
    CsvImport,
    CsvImportProblem,
    ImportChoice,
    ImportKind,
    ImportState,
    Source,
)
from accounts_app.scoring import fit_score
from core import hooks
from core.errors import Invalid, NotAllowed
from core.roles import Side, is_on_side
from core.text import FORMULA_STARTS, single_line

logger = logging.getLogger(__name__)

User = get_user_model()

COLUMNS = (
    "name",
    "domain",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "region",
    "sales_owner",
    "marketing_owner",
    "parent_domain",
)
REQUIRED_COLUMNS = ("name", "domain")
# Written by the export, computed by Accord: accepted in a file and ignored.
EXPORT_ONLY_COLUMNS = ("fit_score", "source")

MAX_LENGTHS = {"name": 200, "industry": 100, "region": 50}
MAX_REVENUE = Decimal("99999999999999.99")  # Account.annual_revenue: 16 digits, 2 decimals


def _cell(row: Mapping, column: str) -> str:
    value = row.get(column)
    value = "" if value is None else str(value).strip()
    # Undo our own export's neutralisation, so an exported file imports unchanged.
    if value.startswith("'") and value[1:].startswith(FORMULA_STARTS):
        value = value[1:]
    return value


class Unreadable(Invalid):
    """The file's bytes are not text in an encoding Accord reads."""


UNREADABLE = (
    "Accord cannot read this file: it is not a CSV text file in UTF-8, UTF-16 or Windows-1252 "
    "(a spreadsheet's own format, or text in another encoding). Save the file as UTF-8 CSV "
    '(in Excel: File, Save As, "CSV UTF-8 (Comma delimited)") and upload it again.'
)
# Control characters other than tab, line feed and carriage return never occur in a CSV
# file someone typed; they mean binary data, or UTF-16 read without its byte order mark.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECODE_STEP = 1 << 20


def _decodes(data: bytes, encoding: str) -> bool:
    """Whether all of `data` decodes, in steps so that no second copy of the file is made.
    Raises Unreadable if it decodes to control characters."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    view = memoryview(data)
    try:
        for start in range(0, len(data), _DECODE_STEP):
            text = decoder.decode(view[start : start + _DECODE_STEP])
            if _CONTROL.search(text):
                raise Unreadable(UNREADABLE)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


# Kana and the common CJK ideographs; half-width katakana are what Windows-1252's accented
# capitals (0xA1-0xDF) read as in Shift-JIS.
_JAPANESE = re.compile("[\u3040-\u30ff\u4e00-\u9fff]")
_HALFWIDTH_KANA = re.compile("[\uff61-\uff9f]")


def _reads_as_japanese(data: bytes) -> bool:
    """Whether `data` is Shift-JIS (the default of Japanese Windows and Excel) rather than
    Windows-1252: all of it decodes as Shift-JIS to kana or kanji, and to no half-width kana.
    Most Shift-JIS bytes are valid Windows-1252 too, so without this a file of Japanese names
    would import as mojibake ("株式会社" as "Š”Ž®‰ïŽÐ"), while Windows-1252 text with accented
    letters almost never decodes as Shift-JIS."""
    decoder = codecs.getincrementaldecoder("cp932")(errors="strict")
    view = memoryview(data)
    japanese = False
    try:
        for start in range(0, len(data), _DECODE_STEP):
            text = decoder.decode(view[start : start + _DECODE_STEP])
            if _HALFWIDTH_KANA.search(text):
                return False
            japanese = japanese or bool(_JAPANESE.search(text))
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return japanese


def detect_encoding(data: bytes) -> str:
    """The encoding to read `data` with. In this order: a byte order mark (UTF-8, UTF-16 LE or
    BE) decides; otherwise UTF-8 if every byte sequence is valid UTF-8 (text in Windows-1252
    with any letter beyond ASCII almost never is); otherwise Windows-1252, unless it reads as
    Shift-JIS Japanese. Anything else, and any file decoding to control characters (binary
    data, UTF-16 without a byte order mark), raises Unreadable."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]
    else:
        candidates = ["utf-8", "cp1252"]
    for encoding in candidates:
        if _decodes(data, encoding):
            if encoding == "cp1252" and _reads_as_japanese(data):
                break
            return encoding
    raise Unreadable(UNREADABLE)


def open_text(data: bytes, encoding: str) -> io.TextIOWrapper:
    """The file as text, decoded as it is read."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")


@dataclass
class CsvRow:
    line: int  # the line the row starts on, as a spreadsheet numbers them (header = 1)
    cells: dict  # column → cell
    problem: str | None = None  # a problem with the row's shape


class CsvRows:
    """A CSV file's rows, read one at a time from a text stream, with the line each starts on:
    blank lines are skipped (but counted), a quoted cell may span lines, short rows are padded
    with empty cells. `headers` and `header_line` are known once the first row is asked for
    (or after `read_header()`)."""

    def __init__(self, stream) -> None:
        self._reader = csv.reader(stream)
        self._previous_end = 0
        self.headers: list[str] = []
        self.header_line = 1

    def _records(self):
        reader = self._reader
        for record in reader:
            start, self._previous_end = self._previous_end + 1, reader.line_num
            if any(cell.strip() for cell in record):
                yield start, record

    def read_header(self) -> list[str]:
        for start, record in self._records():
            self.headers, self.header_line = [normalise_header(h) for h in record], start
            break
        return self.headers

    def __iter__(self):
        headers = self.headers
        width = len(headers)
        for start, record in self._records():
            problem = None
            if any(cell.strip() for cell in record[width:]):
                problem = f"this line has {len(record)} cells but the header has {width} columns."
            cells = (record + [""] * width)[:width]
            yield CsvRow(start, dict(zip(headers, cells, strict=True)), problem)


def header_problems(headers, *, line: int = 1) -> list[str]:
    """Plain-language problems with the header line."""
    if not headers:
        return ["The file is empty: it needs a header line and a line per account."]
    problems = []
    known = set(COLUMNS) | set(EXPORT_ONLY_COLUMNS)
    unknown = [h for h in headers if h and h not in known]
    if unknown:
        problems.append(
            f"line {line}: unknown column{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(h) for h in unknown)}. The columns are: {', '.join(COLUMNS)}."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        problems.append(
            f"line {line}: the file has no {' and no '.join(missing)} column; "
            "every account needs a name and a domain."
        )
    duplicated = sorted({h for h in headers if h and headers.count(h) > 1})
    if duplicated:
        problems.append(f"line {line}: the column {', '.join(duplicated)} appears twice.")
    return problems


def normalise_header(header) -> str:
    return str(header or "").strip().lower().replace(" ", "_").lstrip("\ufeff")


@dataclass
class RowResult:
    values: dict = field(default_factory=dict)  # model field → value, only the cells given
    errors: dict = field(default_factory=dict)  # column → plain-language message


class AccountRowReader:
    """Checks rows one by one, remembering the domains already seen in the file.

    Empty cells and absent columns leave an existing account's value unchanged.
    """

    def __init__(self) -> None:
        self.seen_domains: dict[str, int] = {}  # normalised domain → line
        self.valid_domains: set[str] = set()  # the domains of rows without errors so far
        self._people = None
        self.known_ids: dict[str, int] = {}  # from `prefetch`: domain → id, in Accord
        self._prefetched: set[str] = set()

    def prefetch(self, rows) -> None:
        """Look up the parents a batch of rows names in one query, instead of one per row."""
        domains = set()
        for row in rows:
            value = _cell(row, "parent_domain")
            if value:
                with contextlib.suppress(Invalid):  # reported by `read`
                    domains.add(normalise_domain(value))
        self._prefetched = domains
        self.known_ids = dict(
            Account.objects.filter(domain__in=domains).values_list("domain", "pk")
        )

    def _in_accord(self, domain: str) -> bool:
        if domain in self._prefetched:
            return domain in self.known_ids
        return Account.objects.filter(domain=domain).exists()

    def people(self) -> dict[str, list]:
        """Active people by lower-cased username and e-mail, with their groups (one query)."""
        if self._people is None:
            index: dict[str, list] = {}
            for user in User.objects.filter(is_active=True).prefetch_related("groups"):
                user._accord_groups = frozenset(g.name for g in user.groups.all())
                index.setdefault(user.username.lower(), []).append(user)
                if user.email:
                    index.setdefault(user.email.lower(), []).append(user)
            self._people = index
        return self._people

    def read(self, row: Mapping, *, line: int, problem: str | None = None) -> RowResult:
        """The row's values, or its problems by column ("" for the row as a whole, such as
        `problem`, one with its shape)."""
        result = RowResult()
        for column, check in (
            ("name", self._name),
            ("domain", self._domain),
            ("industry", self._text),
            ("employee_count", self._employee_count),
            ("annual_revenue", self._annual_revenue),
            ("country", self._country),
            ("region", self._text),
            ("sales_owner", self._owner),
            ("marketing_owner", self._owner),
            ("parent_domain", self._parent),
        ):
            value = _cell(row, column)
            if column not in row or (value == "" and column not in REQUIRED_COLUMNS):
                continue
            try:
                check(result, column, value, line=line)
            except Invalid as error:
                result.errors[column] = error.message
        if problem:
            result.errors[""] = problem
        if not result.errors:
            self.valid_domains.add(result.values["domain"])
        return result

    def _name(self, result, column, value, *, line):
        if not value:
            raise Invalid("the company's name is empty.")
        self._text(result, column, value, line=line)

    def _text(self, result, column, value, *, line):
        # One line, as account_create and account_update require: the name reaches e-mail
        # subjects and file names. A quoted cell may hold line breaks a spreadsheet hides.
        what = "The company's name" if column == "name" else f"The {column}"
        value = single_line(value, what=what)
        limit = MAX_LENGTHS[column]
        if len(value) > limit:
            raise Invalid(f"{len(value)} characters is too long; at most {limit} fit.")
        result.values[column] = value

    def _domain(self, result, column, value, *, line):
        if not value:
            raise Invalid("the domain is empty; every account needs one, e.g. example.com.")
        try:
            domain = normalise_domain(value)
        except Invalid:
            raise Invalid(f"'{value}' is not a web domain, e.g. example.com.") from None
        first = self.seen_domains.get(domain)
        if first is not None:
            raise Invalid(
                f"{domain} is already on line {first} of this file; "
                "each account may appear only once."
            )
        self.seen_domains[domain] = line
        result.values["domain"] = domain

    def _employee_count(self, result, column, value, *, line):
        digits = value.replace(",", "").replace("_", "").replace(" ", "")
        if digits.startswith("-") and digits[1:].isdigit():
            raise Invalid(f"'{value}' is negative; give the number of employees.")
        if not digits.isdigit():
            raise Invalid(f"'{value}' is not a whole number.")
        if int(digits) > 2_147_483_647:
            raise Invalid(f"'{value}' is too large.")
        result.values[column] = int(digits)

    def _annual_revenue(self, result, column, value, *, line):
        try:
            amount = Decimal(value.replace(",", "").replace("_", "").replace(" ", ""))
        except InvalidOperation:
            raise Invalid(f"'{value}' is not an amount, e.g. 2500000 or 2500000.50.") from None
        if not amount.is_finite():
            raise Invalid(f"'{value}' is not an amount, e.g. 2500000 or 2500000.50.")
        if amount < 0:
            raise Invalid(f"'{value}' is negative.")
        amount = amount.quantize(Decimal("0.01"))
        if amount > MAX_REVENUE:
            raise Invalid(f"'{value}' is too large.")
        result.values[column] = amount

    def _country(self, result, column, value, *, line):
        result.values[column] = country_code(value, field=None)

    def _owner(self, result, column, value, *, line):
        side = Side.SALES if column == "sales_owner" else Side.MARKETING
        matches = {u.pk: u for u in self.people().get(value.lower(), [])}
        if not matches:
            raise Invalid(f"nobody in Accord has the username or e-mail '{value}'.")
        if len(matches) > 1:
            raise Invalid(f"several people use the e-mail '{value}'; give the username instead.")
        (user,) = matches.values()
        if not is_on_side(user, side):
            raise Invalid(f"{user.username} is not on the {side.label.lower()} side.")
        result.values[column] = user

    def _parent(self, result, column, value, *, line):
        try:
            domain = normalise_domain(value)
        except Invalid:
            raise Invalid(f"'{value}' is not a web domain, e.g. example.com.") from None
        if domain == result.values.get("domain"):
            raise Invalid("an account cannot be its own parent.")
        if domain not in self.valid_domains and not self._in_accord(domain):
            raise Invalid(
                f"no account has the domain {domain}; add the parent first "
                "(in Accord or on an earlier line of this file)."
            )
        # By domain: a parent on an earlier line has no id until that line is saved.
        result.values["parent_domain"] = domain


# --- Checking and importing a stored file (Celery tasks call these) ------------------------------

IMPORT_PERMISSIONS = ("accounts_app.add_account", "accounts_app.change_account")
# Row fields the import writes, in the order of ACCOUNT_FIELDS (accounts_app.services).
WRITTEN_FIELDS = (
    "name",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "region",
    "sales_owner",
    "marketing_owner",
)
CHANGED_MEANING_SHOWN = 20


def can_import(user) -> bool:
    """Whether the person may import accounts: revenue operations (the admin's import)."""
    return bool(user and user.is_active and user.has_perms(IMPORT_PERMISSIONS))


def too_large(size: int) -> str:
    limit = settings.CSV_IMPORT_MAX_BYTES
    return (
        f"This file is {filesizeformat(size)}; at most {filesizeformat(limit)} can be imported "
        "at once. Split it into smaller files and import them one after the other."
    )


def csv_import_create(*, file, by) -> CsvImport:
    """Store an uploaded file and queue its check. `file` is an UploadedFile (or any object
    with `name`, `size` and `chunks()`)."""
    if not can_import(by):
        raise NotAllowed("Only revenue operations can import accounts.")
    if file.size > settings.CSV_IMPORT_MAX_BYTES:
        raise Invalid(too_large(file.size), field="import_file")
    if not file.size:
        raise Invalid(
            "The file is empty: it needs a header line and a line per account.",
            field="import_file",
        )
    data = b"".join(file.chunks())
    binary = connection.vendor == "postgresql"
    with transaction.atomic():
        csv_import = CsvImport.objects.create(
            kind=ImportKind.ACCOUNTS,
            uploaded_by=by,
            file_name=(file.name or "accounts.csv")[:255],
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
    return rows, encoding, header_problems(headers, line=rows.header_line)


def _estimated_rows(data) -> int:
    # Line feeds: about the number of rows (a little more: the header, blank lines, cells
    # spanning lines), known at once; the check's end sets the true number.
    return max(memoryview(data).tobytes().count(b"\n"), 1)


def _apply(account: Account, values: dict, *, icp, parent_ids: dict) -> bool:
    """Set a row's values on an account and rescore it; whether anything changed. Empty cells
    and absent columns were left out of `values`: they keep the account's value."""
    changed = False
    for name in WRITTEN_FIELDS:
        if name not in values:
            continue
        value = values[name]
        if name in ("sales_owner", "marketing_owner"):
            if getattr(account, f"{name}_id") != value.pk:
                setattr(account, name, value)
                changed = True
        elif getattr(account, name) != value:
            setattr(account, name, value)
            changed = True
    if "parent_domain" in values:
        parent_id = parent_ids.get(values["parent_domain"])
        # None: a parent on an earlier line that is not saved yet (only while checking).
        if parent_id is None or account.parent_id != parent_id:
            account.parent_id = parent_id
            changed = True
    if icp is not None:
        score = fit_score(icp.criteria, account)
        if score != account.fit_score:
            account.fit_score = score
            changed = True
    return changed


def _read_batch(reader: AccountRowReader, batch: list[CsvRow]):
    """Each row of a batch read, and the accounts in Accord that the valid ones name (three
    queries a batch: parents, accounts, and once the people)."""
    reader.prefetch(row.cells for row in batch)
    results = [(row, reader.read(row.cells, line=row.line, problem=row.problem)) for row in batch]
    domains = [result.values["domain"] for _, result in results if not result.errors]
    existing = {account.domain: account for account in Account.objects.filter(domain__in=domains)}
    return results, existing


def _error_lines(result: RowResult, line: int) -> list[tuple[int, str, str]]:
    return [(line, column, message) for column, message in result.errors.items()]


def csv_import_check(*, csv_import: CsvImport) -> CsvImport:
    """Check a stored file without saving any account.

    1. Claim the check: each run takes the next attempt; a run whose worker died is run again
       from the start (redelivered, or queued by csv_imports_resume), and an older run
       that wakes up finds a later attempt and stops.
    2. Detect the encoding and read the header: a problem there ends the check (failed).
    3. Read the rows in batches with AccountRowReader; count each valid row as new, updated or
       unchanged against the accounts in Accord; store each batch's problems with the progress
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
    from accounts_app.services import effective_icp

    icp = effective_icp()
    reader = AccountRowReader()
    counts = {"rows": 0, "new": 0, "updated": 0, "unchanged": 0, "error_rows": 0}
    batch_size = settings.CSV_IMPORT_BATCH_SIZE
    try:
        for batch in _batches(rows, batch_size):
            problems = []
            results, existing = _read_batch(reader, batch)
            for row, result in results:
                counts["rows"] += 1
                if result.errors:
                    counts["error_rows"] += 1
                    problems.extend(_error_lines(result, row.line))
                    continue
                account = existing.get(result.values["domain"])
                if account is None:
                    counts["new"] += 1
                elif _apply(account, result.values, icp=icp, parent_ids=reader.known_ids):
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
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
        line = rows._previous_end + 1
        message = f"line {line}: this is not a CSV file Accord can read ({error})."
        return _finish_check(pk, attempt, encoding=encoding, message=message)
    if not counts["rows"]:
        return _finish_check(
            pk,
            attempt,
            encoding=encoding,
            message="The file has a header line but no account: add a line per account.",
        )
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
    """Ops confirm a checked file: "all" (only for a file without errors) or "valid" (its valid
    rows only, for a file with errors). Anything else is refused, so a replayed or forged form
    never imports what was not checked and chosen."""
    if not can_import(by) or csv_import.uploaded_by_id != by.pk:
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
    2. Read the file again with the same reader: rules and data may have changed since the
       check. A row that reads differently (a new problem, a problem gone, a domain someone
       added to Accord since) is reported and nothing is imported.
    3. Per batch: insert the new accounts, update the changed ones (bulk, fit score computed
       as the account services do), and queue the changed accounts that are on an open list
       for the CRM (crm.services.accounts_changed_record, as account_update does). Progress
       goes out on a second connection.
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
            + ". Most likely someone added an account with one of this file's domains while it "
            "was being imported. Upload the file again to check it anew.",
        )
    finally:
        progress.close()
    return CsvImport.objects.defer("data").get(pk=pk)


def _fail(pk: int, attempt: int, message: str) -> None:
    _mine(pk, ImportState.IMPORTING, attempt).update(
        state=ImportState.FAILED, message=message, finished_at=timezone.now()
    )


def _import_rows(csv_import: CsvImport, progress: _Progress) -> dict:
    from accounts_app.services import effective_icp

    rows, _, file_problems = _open_rows(csv_import)
    if file_problems:
        raise _ChangedMeaning(file_problems)
    icp = effective_icp()
    reader = AccountRowReader()
    valid_only = csv_import.choice == ImportChoice.VALID_ROWS_ONLY
    checked_errors = set(csv_import.problems.values_list("line", flat=True).distinct())
    since = csv_import.check_started_at
    counts = {"new": 0, "updated": 0, "unchanged": 0, "error_rows": 0}
    changed_meaning: list[str] = []
    done = 0
    for batch in _batches(rows, settings.CSV_IMPORT_BATCH_SIZE):
        results, existing = _read_batch(reader, batch)
        parent_ids = dict(reader.known_ids)
        new, pending_parent, to_update = [], [], []
        for row, result in results:
            if result.errors:
                counts["error_rows"] += 1
                if row.line not in checked_errors or not valid_only:
                    changed_meaning.extend(
                        f"line {line}{f', column {column}' if column else ''}: {message}"
                        for line, column, message in _error_lines(result, row.line)
                    )
                continue
            if row.line in checked_errors:
                changed_meaning.append(
                    f"line {row.line}: had errors when checked and has none now."
                )
                continue
            values = result.values
            account = existing.get(values["domain"])
            if account is None:
                account = Account(domain=values["domain"], source=Source.CSV)
                _apply(account, values, icp=icp, parent_ids=parent_ids)
                if "parent_domain" in values and account.parent_id is None:
                    pending_parent.append((account, values["parent_domain"]))
                new.append(account)
            elif since is not None and account.created_at >= since:
                changed_meaning.append(
                    f"line {row.line}: {account.domain} was added to Accord by someone else "
                    "since the file was checked."
                )
            else:
                to_update.append((account, values))
        if changed_meaning:
            continue  # read on, to report every row that changed, but write nothing more
        _insert_accounts(new, pending_parent, parent_ids)
        now = timezone.now()
        changed = []
        for account, values in to_update:
            if _apply(account, values, icp=icp, parent_ids=parent_ids):
                account.updated_at = now
                changed.append(account)
        if changed:
            _update_accounts(changed, [*WRITTEN_FIELDS, "parent", "fit_score", "updated_at"])
            # New owners reach the accounts' entries on open lists, and the CRM: same
            # transaction, as account_update.
            # The CRM hears of new owners and names in this transaction (core.hooks).
            hooks.accounts_changed.send(sender=Account, accounts=changed)
        counts["new"] += len(new)
        counts["updated"] += len(changed)
        counts["unchanged"] += len(to_update) - len(changed)
        done += len(new) + len(to_update)
        progress.write(min(done, csv_import.total))
    if changed_meaning:
        raise _ChangedMeaning(changed_meaning)
    if counts["new"] != csv_import.new:
        raise _ChangedMeaning(
            [
                f"{csv_import.new} new account(s) when checked, {counts['new']} now: "
                "accounts with this file's domains were added or deleted meanwhile."
            ]
        )
    return counts


def _insert_accounts(accounts: list[Account], pending_parent: list, parent_ids: dict) -> None:
    """Insert new accounts, linking those whose parent is a new account of the same batch.

    On PostgreSQL the ids are taken from the sequence first, so that every parent is known
    before the rows are written, and the rows go in with COPY: about three times faster than
    bulk_create's INSERT, whose SQL Django and psycopg build value by value."""
    if connection.vendor != "postgresql":
        Account.objects.bulk_create(accounts)
        parent_ids.update((account.domain, account.pk) for account in accounts)
        for account, parent_domain in pending_parent:
            account.parent_id = parent_ids[parent_domain]
        if pending_parent:
            Account.objects.bulk_update([account for account, _ in pending_parent], ["parent"])
        return
    if not accounts:
        return
    table = Account._meta.db_table
    quote = connection.ops.quote_name
    fields = Account._meta.concrete_fields
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(accounts)],
        )
        for account, (pk,) in zip(accounts, cursor.fetchall(), strict=True):
            account.pk = pk
            account.created_at = account.updated_at = now
            parent_ids[account.domain] = pk
        for account, parent_domain in pending_parent:
            account.parent_id = parent_ids[parent_domain]
        columns = ", ".join(quote(field.column) for field in fields)
        # psycopg's own cursor, so its errors are turned into Django's (IntegrityError) here.
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {quote(table)} ({columns}) FROM STDIN") as copy,
        ):
            for account in accounts:
                copy.write_row([getattr(account, field.attname) for field in fields])


def _update_accounts(accounts: list[Account], names: list[str]) -> None:
    """Write these fields of these accounts. On PostgreSQL one UPDATE … FROM (VALUES …) a
    batch: Django's bulk_update builds a CASE per field with a branch per row, which costs
    Python and PostgreSQL time growing with the square of the batch."""
    if connection.vendor != "postgresql":
        Account.objects.bulk_update(accounts, names)
        return
    fields = [Account._meta.get_field(name) for name in names]
    pk = Account._meta.pk
    quote = connection.ops.quote_name
    columns = [pk, *fields]
    row = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    params = []
    for account in accounts:
        params.append(account.pk)
        params.extend(
            field.get_db_prep_save(getattr(account, field.attname), connection) for field in fields
        )
    table = quote(Account._meta.db_table)
    assignments = ", ".join(f"{quote(f.column)} = v.{quote(f.column)}" for f in fields)
    names_sql = ", ".join(quote(f.column) for f in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {assignments} "
            f"FROM (VALUES {', '.join([row] * len(accounts))}) AS v({names_sql}) "
            f"WHERE {table}.{quote(pk.column)} = v.{quote(pk.column)}",
            params,
        )


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
