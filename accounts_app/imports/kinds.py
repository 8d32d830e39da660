"""What differs between the kinds of CSV file: the one object per kind that the steps of
accounts_app.imports.pipeline ask (the steps themselves are the same for every kind).

A kind says which columns a file has and which it needs, who may import it, and gives a fresh
`BatchReader` for each run of a step: it reads a batch of rows into values or problems by
column, counts what the valid ones would do (the check), and writes them (the import).
"""

from accounts_app.imports.files import CsvRow, RowResult

Valid = list[tuple[CsvRow, RowResult]]  # the rows of a batch without a problem, with their values


class BatchReader:
    """Reads a file's rows one batch at a time, remembering what it has seen (a key repeated on
    a later line is a problem there). One per run of a step."""

    def read(self, batch: list[CsvRow]) -> list[RowResult]:
        """Each row's values, or its problems by column ("" for the row as a whole, such as the
        row's shape), in a few queries a batch whatever its size."""
        raise NotImplementedError

    def count(self, valid: Valid) -> dict[str, int]:
        """The check: how many of the valid rows are new, would update and would change nothing
        ({"new": …, "updated": …, "unchanged": …}). Writes nothing."""
        raise NotImplementedError

    def changed_since(self, valid: Valid, *, since) -> list[tuple[int, str]]:
        """The import: valid rows that now mean something else than when the file was checked
        (`since`, when its check started), as (line, "line N: …")."""
        return []

    def write(self, valid: Valid) -> dict[str, int]:
        """The import: write the valid rows of a batch, inside the import's transaction, and
        count them as `count` does."""
        raise NotImplementedError


class ImportKindRules:
    """One kind of file. A subclass per kind sets these and the methods below; one instance of
    each is what the steps, the admin and the templates ask."""

    kind = ""  # accounts_app.models.ImportKind
    noun = ""  # "account"
    plural = ""  # "accounts"
    columns: tuple[str, ...] = ()
    required: tuple[str, ...] = ()  # columns every file has
    needs = ""  # why, e.g. "every account needs a name and a domain"
    one_of: tuple[str, ...] = ()  # of these columns, a file has at least one
    one_of_needs = ""
    ignored: tuple[str, ...] = ()  # accepted in a file, and not read
    # What most likely happened when the database refused a row during the import.
    refused_row = ""
    # What most likely happened when fewer or more rows are new than when the file was checked.
    meanwhile = ""
    help_template = ""  # the upload page's paragraphs on this kind's columns and rules

    def can_import(self, user) -> bool:
        raise NotImplementedError

    def require_importer(self, user) -> None:
        """Raise NotAllowed, saying who may, unless `user` may import this kind of file."""
        raise NotImplementedError

    def reader(self, csv_import) -> BatchReader:
        raise NotImplementedError

    def counted(self, count: int) -> str:
        """The noun after a count: "account(s)", "activities"."""
        return f"{self.noun}(s)"

    def new_count_changed(self, *, checked: int, now: int) -> str:
        return f"{checked} new {self.counted(checked)} when checked, {now} now: {self.meanwhile}."

    @property
    def empty(self) -> str:
        return f"The file is empty: it needs a header line and a line per {self.noun}."

    @property
    def no_rows(self) -> str:
        return f"The file has a header line but no {self.noun}: add a line per {self.noun}."

    def header_problems(self, headers, *, line: int = 1) -> list[str]:
        """Plain-language problems with the header line."""
        if not headers:
            return [self.empty]
        problems = []
        known = set(self.columns) | set(self.ignored)
        unknown = [h for h in headers if h and h not in known]
        if unknown:
            problems.append(
                f"line {line}: unknown column{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(repr(h) for h in unknown)}. The columns are: "
                f"{', '.join(self.columns)}."
            )
        missing = [c for c in self.required if c not in headers]
        if missing:
            problems.append(
                f"line {line}: the file has no {' and no '.join(missing)} column; {self.needs}."
            )
        if self.one_of and not any(c in headers for c in self.one_of):
            problems.append(
                f"line {line}: the file has none of the columns {', '.join(self.one_of)}; "
                f"{self.one_of_needs}."
            )
        duplicated = sorted({h for h in headers if h and headers.count(h) > 1})
        if duplicated:
            problems.append(f"line {line}: the column {', '.join(duplicated)} appears twice.")
        return problems
