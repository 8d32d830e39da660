"""Reading accounts from a CSV file: the columns, and the checks of one row in plain words.

The admin's import (accounts_app.resources.AccountResource) calls `AccountRowReader.read` for
every row; each problem names the column it is in, and the admin adds the line number.
Saving goes through accounts_app.services (account_create / account_update), which compute the
fit score against the effective ideal customer profile.
"""

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.models import Account
from core.text import FORMULA_STARTS
from workflow.errors import Invalid
from workflow.roles import Side, is_on_side

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


@dataclass
class CsvFile:
    """A CSV file's rows with the line each starts on, as a spreadsheet would number them."""

    headers: list[str]
    header_line: int
    rows: list[list[str]]
    lines: list[int]  # the line each row starts on
    row_problems: dict[int, str]  # row index → a problem with the row's shape


def read_csv(text: str) -> CsvFile:
    """Parse CSV text, keeping line numbers: blank lines are skipped (but counted), a quoted
    cell may span lines, short rows are padded with empty cells."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    headers, header_line = None, 1
    rows, lines, problems = [], [], {}
    previous_end = 0
    for record in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if headers is None:
            headers, header_line = [normalise_header(h) for h in record], start
            continue
        extra = record[len(headers) :]
        if any(cell.strip() for cell in extra):
            problems[len(rows)] = (
                f"this line has {len(record)} cells but the header has {len(headers)} columns."
            )
        rows.append((record + [""] * len(headers))[: len(headers)])
        lines.append(start)
    return CsvFile(headers or [], header_line, rows, lines, problems)


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
        self._people = None

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

    def read(self, row: Mapping, *, line: int) -> RowResult:
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
        return result

    def _name(self, result, column, value, *, line):
        if not value:
            raise Invalid("the company's name is empty.")
        self._text(result, column, value, line=line)

    def _text(self, result, column, value, *, line):
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
        parent = Account.objects.filter(domain=domain).first()
        if parent is None:
            raise Invalid(
                f"no account has the domain {domain}; add the parent first "
                "(in Accord or on an earlier line of this file)."
            )
        result.values["parent"] = parent
