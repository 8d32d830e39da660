"""CSV files of activities (marketing touches from a tool's export, sales activities from a
spreadsheet): their columns, how a cell is read into a value, and how a batch is counted and
written.

The rules of a row are the API's: accounts_app.services.ActivityRules checks the rows of a file
batch by batch as it checks a request of POST /api/v1/activities/ (the account named once and
existing, the contact of that account, kind, side, the external id and its repeats), and
activities_compare/activities_save count and write them. What is this file's own is reading a
cell, which the API's serializer does for JSON: an id is a whole number, a key a UUID, a time
ISO 8601, and so on, each refused with its own message.

The external id is the uploader's, as a request's is its caller's (activity_external_key): the
same file imported again updates its activities, or leaves them unchanged, and never adds them
twice; an activity sent through the API by the same person with the same id is the same one.
"""

import datetime
import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts_app.imports.files import CsvRow, RowResult, cell
from accounts_app.imports.kinds import BatchReader, ImportKindRules, Valid
from accounts_app.models import ActivityKind, ImportKind
from accounts_app.services import (
    ACCOUNT_NAMES,
    UNREAD,
    ActivityRules,
    activities_compare,
    activities_save,
    require_activity_writer,
)
from core.errors import Invalid, NotAllowed
from core.text import single_line

COLUMNS = (
    "account",
    "account_key",
    "domain",
    "contact_email",
    "kind",
    "side",
    "occurred_at",
    "subject",
    "external_id",
)
REQUIRED_COLUMNS = ("kind", "side", "occurred_at", "external_id")
MAX_ID = 2**63 - 1  # the largest id PostgreSQL's bigint holds
MAX_DOMAIN = 253  # as the API's serializer
MAX_SUBJECT = 200  # Activity.subject
EXAMPLE_TIME = "2026-11-30T14:05:00Z"

EMPTY = {
    "kind": f"the kind is empty; give one of {', '.join(ActivityKind.values)}.",
    "side": "the side is empty; give who performed the activity: marketing or sales.",
    "occurred_at": f"the time is empty; give when the activity happened, e.g. {EXAMPLE_TIME}.",
    "external_id": (
        "the external_id is empty; give your id for the activity, so that importing the file "
        "again updates it instead of adding it twice."
    ),
}


def _account(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) <= MAX_ID:
        raise Invalid(
            f"'{text}' is not an account id: give the account's number in Accord (a whole "
            "number), or name it in account_key or domain instead."
        )
    return int(text)


def _account_key(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise Invalid(
            f"'{text}' is not an account key: Accord's keys are UUIDs such as "
            "6f1c2a3e-9b4d-4e8f-a1b2-c3d4e5f60718."
        ) from None


def _domain(text: str) -> str:
    if len(text) > MAX_DOMAIN:
        raise Invalid(f"{len(text)} characters is too long; at most {MAX_DOMAIN} fit.")
    return text  # normalised, and looked up, by the rules


def _email(text: str) -> str:
    try:
        validate_email(text)
    except ValidationError:
        raise Invalid(f"'{text}' is not an e-mail address.") from None
    return text


def _choice(text: str) -> str:
    return text.lower()  # "Meeting" and "SALES" as the API's "meeting" and "sales"


def occurred_at(text: str) -> datetime.datetime:
    """An ISO 8601 date and time, as the API reads one (Django's parse_datetime): with an offset
    or Z, or without one in the site's time zone (TIME_ZONE), or a date alone (its midnight
    there)."""
    zone = timezone.get_default_timezone()
    try:
        moment = parse_datetime(text)
    except ValueError:  # shaped like one, but no such date or time (a 25th hour)
        moment = None
    if moment is None:
        raise Invalid(
            f"'{text}' is not a date and time; write it as ISO 8601, e.g. {EXAMPLE_TIME}, "
            f"2026-11-30 14:05 (read in {zone}) or 2026-11-30."
        )
    try:
        if timezone.is_naive(moment):
            aware = timezone.make_aware(moment, zone)
            if aware.astimezone(datetime.UTC).astimezone(zone).replace(tzinfo=None) != moment:
                raise Invalid(
                    f"'{text}' does not exist in {zone} (the clocks skip it); give the time "
                    "with its offset, e.g. 2026-03-29T02:30:00+01:00."
                )
            moment = aware
        moment.astimezone(datetime.UTC)
    except OverflowError:
        raise Invalid(f"'{text}' is too far in the past or the future.") from None
    return moment


def _subject(text: str) -> str:
    text = single_line(text, what="The subject")
    if len(text) > MAX_SUBJECT:
        raise Invalid(f"{len(text)} characters is too long; at most {MAX_SUBJECT} fit.")
    return text


CELLS = (
    ("account", _account),
    ("account_key", _account_key),
    ("domain", _domain),
    ("contact_email", _email),
    ("kind", _choice),
    ("side", _choice),
    ("occurred_at", occurred_at),
    ("subject", _subject),
    ("external_id", str),  # its form is a rule (ActivityRules)
)


def read_cells(cells: Mapping) -> tuple[dict, dict[str, str]]:
    """A row's cells as the values the rules take (UNREAD for a cell that could not be read),
    and the cells' problems by column. Empty cells and absent columns are not given, except
    those every activity needs."""
    values, errors = {}, {}
    for column, read in CELLS:
        if column not in cells:
            continue
        text = cell(cells, column)
        if not text:
            if column in EMPTY:
                values[column], errors[column] = UNREAD, EMPTY[column]
            continue
        try:
            values[column] = read(text)
        except Invalid as error:
            values[column], errors[column] = UNREAD, error.message
    return values, errors


def _repeated(first_line: int, external_id: str) -> str:
    return (
        f"{external_id} is already on line {first_line} of this file; each activity may "
        "appear only once."
    )


class ActivityBatches(BatchReader):
    """A file of activities, batch by batch: a row whose external id is one of the uploader's
    activities updates it, any other row is a new activity."""

    def __init__(self, *, by) -> None:
        self.by = by
        self.rules = ActivityRules(by=by, repeated=_repeated)

    def read(self, batch: list[CsvRow]) -> list[RowResult]:
        """The cells read, then the rules (accounts and contacts in a query each)."""
        if self.by is None:  # deleted since the upload: their activities have no key
            gone = "the person who uploaded this file is no longer in Accord."
            return [RowResult(errors={"": gone}) for _ in batch]
        read = [read_cells(row.cells) for row in batch]
        checked, _ = self.rules.check(
            [values for values, _ in read], where=[row.line for row in batch]
        )
        results = []
        for row, (_, errors), verdict in zip(batch, read, checked, strict=True):
            for field, messages in verdict.errors.items():
                column = _column(field, row.cells)
                errors[column] = " ".join(
                    [errors[column], *messages] if column in errors else messages
                )
            if row.problem:
                errors[""] = row.problem
            results.append(RowResult(values={} if errors else verdict.values, errors=errors))
        return results

    def count(self, valid: Valid) -> dict[str, int]:
        compared = activities_compare(rows=[result.values for _, result in valid])
        return _counts(compared)

    def write(self, valid: Valid) -> dict[str, int]:
        compared = activities_compare(rows=[result.values for _, result in valid])
        activities_save(compared=compared)
        return _counts(compared)


def _column(field: str, cells: Mapping) -> str:
    """The column a rule's problem is shown in: its field's, or for the account named in no
    way (or in several) the first of the file's account columns."""
    if field in cells or field not in ACCOUNT_NAMES:
        return field
    return next((name for name in ACCOUNT_NAMES if name in cells), field)


def _counts(compared) -> dict[str, int]:
    counts = {"new": 0, "updated": 0, "unchanged": 0}
    outcome = {"created": "new", "updated": "updated", "unchanged": "unchanged"}
    for _, result in compared:
        counts[outcome[result]] += 1
    return counts


class ActivityImportRules(ImportKindRules):
    kind = ImportKind.ACTIVITIES
    noun = "activity"
    plural = "activities"
    columns = COLUMNS
    required = REQUIRED_COLUMNS
    needs = "every activity needs a kind, a side, the time it occurred at and an external_id"
    one_of = ACCOUNT_NAMES
    one_of_needs = "every activity names its account by its id, its key or its domain"
    refused_row = (
        "Most likely the same activities were written meanwhile, by another import of this "
        "file or through the API."
    )
    meanwhile = "activities with this file's external ids were added or deleted meanwhile"
    help_template = "admin/accounts_app/csv_import/help_activities.html"
    activity_kinds = ActivityKind.values
    example_time = EXAMPLE_TIME

    def can_import(self, user) -> bool:
        try:
            require_activity_writer(user)
        except NotAllowed:
            return False
        return True

    def require_importer(self, user) -> None:
        require_activity_writer(user)

    def reader(self, csv_import) -> ActivityBatches:
        return ActivityBatches(by=csv_import.uploaded_by)

    def counted(self, count: int) -> str:
        return self.noun if count == 1 else self.plural


ACTIVITIES = ActivityImportRules()
