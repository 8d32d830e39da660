"""CSV files of accounts: their columns, the checks of one row in plain words
(`AccountRowReader`, the one home of the row rules, in the check and in the import alike), and
how a batch of accounts is counted and written.

The fit score is accounts_app.scoring.fit_score against the effective ideal customer profile,
as account_create and account_update compute it; changed accounts on an open list reach the
CRM through core.hooks.accounts_changed, as account_update's do.
"""

import contextlib
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.imports.files import CsvRow, RowResult, cell
from accounts_app.imports.kinds import BatchReader, ImportKindRules, Valid
from accounts_app.models import Account, ImportKind, Source
from accounts_app.scoring import fit_score
from core import hooks
from core.errors import Invalid, NotAllowed
from core.roles import Side, is_on_side
from core.text import single_line

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
            value = cell(row, "parent_domain")
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
            value = cell(row, column)
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


IMPORT_PERMISSIONS = ("accounts_app.add_account", "accounts_app.change_account")


def can_import(user) -> bool:
    """Whether the person may import accounts: revenue operations (the admin's import)."""
    return bool(user and user.is_active and user.has_perms(IMPORT_PERMISSIONS))


class AccountBatches(BatchReader):
    """A file of accounts, batch by batch: a row whose domain is an account's updates it, any
    other row is a new account."""

    def __init__(self) -> None:
        from accounts_app.services import effective_icp

        self.rows = AccountRowReader()
        self.icp = effective_icp()
        self.existing: dict[str, Account] = {}  # the batch's accounts in Accord, by domain

    def read(self, batch: list[CsvRow]) -> list[RowResult]:
        """Each row read, and the accounts in Accord that the valid ones name (three queries a
        batch: parents, accounts, and once the people)."""
        reader = self.rows
        reader.prefetch(row.cells for row in batch)
        results = [reader.read(row.cells, line=row.line, problem=row.problem) for row in batch]
        domains = [result.values["domain"] for result in results if not result.errors]
        self.existing = {a.domain: a for a in Account.objects.filter(domain__in=domains)}
        return results

    def count(self, valid: Valid) -> dict[str, int]:
        counts = {"new": 0, "updated": 0, "unchanged": 0}
        for _, result in valid:
            account = self.existing.get(result.values["domain"])
            if account is None:
                counts["new"] += 1
            elif _apply(account, result.values, icp=self.icp, parent_ids=self.rows.known_ids):
                counts["updated"] += 1
            else:
                counts["unchanged"] += 1
        return counts

    def changed_since(self, valid: Valid, *, since) -> list[tuple[int, str]]:
        if since is None:
            return []
        return [
            (
                row.line,
                f"line {row.line}: {account.domain} was added to Accord by someone else "
                "since the file was checked.",
            )
            for row, result in valid
            if (account := self.existing.get(result.values["domain"])) is not None
            and account.created_at >= since
        ]

    def write(self, valid: Valid) -> dict[str, int]:
        """Insert the new accounts, update the changed ones (bulk, fit score computed as the
        account services do), and tell the CRM of the changed ones that are on an open list."""
        parent_ids = dict(self.rows.known_ids)
        new, pending_parent, to_update = [], [], []
        for _, result in valid:
            values = result.values
            account = self.existing.get(values["domain"])
            if account is None:
                account = Account(domain=values["domain"], source=Source.CSV)
                _apply(account, values, icp=self.icp, parent_ids=parent_ids)
                if "parent_domain" in values and account.parent_id is None:
                    pending_parent.append((account, values["parent_domain"]))
                new.append(account)
            else:
                to_update.append((account, values))
        _insert_accounts(new, pending_parent, parent_ids)
        now = timezone.now()
        changed = []
        for account, values in to_update:
            if _apply(account, values, icp=self.icp, parent_ids=parent_ids):
                account.updated_at = now
                changed.append(account)
        if changed:
            _update_accounts(changed, [*WRITTEN_FIELDS, "parent", "fit_score", "updated_at"])
            # New owners reach the accounts' entries on open lists, and the CRM: same
            # transaction, as account_update (core.hooks).
            hooks.accounts_changed.send(sender=Account, accounts=changed)
        return {
            "new": len(new),
            "updated": len(changed),
            "unchanged": len(to_update) - len(changed),
        }


class AccountImportRules(ImportKindRules):
    kind = ImportKind.ACCOUNTS
    noun = "account"
    plural = "accounts"
    columns = COLUMNS
    required = REQUIRED_COLUMNS
    needs = "every account needs a name and a domain"
    ignored = EXPORT_ONLY_COLUMNS
    refused_row = (
        "Most likely someone added an account with one of this file's domains while it was "
        "being imported."
    )
    meanwhile = "accounts with this file's domains were added or deleted meanwhile"
    help_template = "admin/accounts_app/csv_import/help_accounts.html"

    def can_import(self, user) -> bool:
        return can_import(user)

    def require_importer(self, user) -> None:
        if not can_import(user):
            raise NotAllowed("Only revenue operations can import accounts.")

    def reader(self, csv_import) -> AccountBatches:
        return AccountBatches()


ACCOUNTS = AccountImportRules()
