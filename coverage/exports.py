"""CSV exports of a cycle: the per-account coverage table and the aggregates of its latest
snapshot, and the agreed list itself. The export views (coverage/export_views.py) stream what
these generators yield.

Every file is UTF-8 with a byte order mark (Excel then reads it as UTF-8), every text cell goes
through `core.text.neutralise_formula` (a name like `=HYPERLINK(…)` is not run), and rows
are read from the database in chunks (`.iterator()`), so memory does not grow with the list.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from datetime import date

from django.conf import settings
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from core.text import neutralise_row
from coverage.models import METRIC_FIELDS, AccountCoverage, Gap, Snapshot, gap_field
from workflow.models import Cycle, TargetAccount

BOM = "\ufeff"
CHUNK_ROWS = 2000  # rows per piece of the response
FETCH_ROWS = 5000  # rows per fetch from the database (a server-side cursor on PostgreSQL)
LIST_SEPARATOR = "; "  # between the roles or gaps of one cell

ACCOUNT_COLUMNS = (
    "account_id",
    "account_key",
    "account_name",
    "account_domain",
    "tier",
    "sales_owner",
    "marketing_owner",
    "required_roles",
    "covered_roles",
    "missing_roles",
    *METRIC_FIELDS,
    "gaps",
)
# The database columns behind ACCOUNT_COLUMNS, up to `gaps` (read from the gap booleans).
_ACCOUNT_VALUES = (
    "account_id",
    "account__key",
    "account__name",
    "account__domain",
    "tier",
    "sales_owner__username",
    "marketing_owner__username",
    "required_roles_text",
    "covered_roles_text",
    "missing_roles_text",
    *METRIC_FIELDS,
)
_ROLE_LISTS = ("required_roles", "covered_roles", "missing_roles")
_GAP_VALUES = tuple(gap_field(code) for code in Gap.values)

AGGREGATE_COLUMNS = (
    "group",
    "tier",
    "owner_username",
    "owner_name",
    "accounts",
    "fully_covered_share",
    "engaged_or_further_share",
    "open_pipeline",
    "won_amount",
    *(f"gap_{code}" for code in Gap.values),
)

LIST_COLUMNS = (
    "account_id",
    "account_key",
    "account_name",
    "account_domain",
    "tier",
    "sales_owner",
    "sales_owner_email",
    "marketing_owner",
    "marketing_owner_email",
    "added_at",
    "nomination_id",
    "nomination_url",
)


# --- Writing ---------------------------------------------------------------------------------


class _Line:
    """A file-like object csv.writer writes one row into, handing the text back."""

    def write(self, text: str) -> str:
        return text


def _joined(items) -> str:
    return LIST_SEPARATOR.join(map(str, items))


def csv_chunks(header: Iterable[str], rows: Iterable[Iterable]) -> Iterator[bytes]:
    """The CSV file as UTF-8 pieces of about CHUNK_ROWS rows each, the first one opening with
    the byte order mark and the header. Every text cell is neutralised; other values (numbers,
    dates, None as an empty cell) cannot start a formula and are written as they are."""
    writer = csv.writer(_Line())
    piece = [BOM, writer.writerow(header)]
    for number, row in enumerate(rows, start=1):
        piece.append(writer.writerow(neutralise_row(row)))
        if number % CHUNK_ROWS == 0:
            yield "".join(piece).encode()
            piece = []
    if piece:
        yield "".join(piece).encode()


def filename(cycle: Cycle, what: str, on: date) -> str:
    """`accord-<cycle slug>-<what>-<date>.csv`: ASCII letters, digits and hyphens only, so the
    Content-Disposition header needs no quoting rules and no browser reads a path into it."""
    slug = slugify(cycle.name)[:60].strip("-") or f"cycle-{cycle.pk}"
    return f"accord-{slug}-{what}-{on:%Y-%m-%d}.csv"


# --- The exports -----------------------------------------------------------------------------


def account_rows(rows: QuerySet[AccountCoverage]) -> Iterator[tuple]:
    """The cells of each account row of `rows` (coverage.selectors.snapshot_rows, filtered),
    read in chunks: one query however many rows."""
    labels = tuple(Gap.values)
    roles = slice(7, 10)  # required, covered, missing
    # The role lists are read as their JSON text and unwrapped here: decoding 3 JSON values per
    # row was a fifth of the export's time. A role is a BuyingRole code ([a-z_]), so the text
    # of a list is `["a", "b"]` (PostgreSQL's jsonb output and Django's json.dumps on SQLite
    # both separate with ", ") and needs no JSON parser.
    rows = rows.annotate(**{f"{name}_text": Cast(name, TextField()) for name in _ROLE_LISTS})
    for values in rows.values_list(*_ACCOUNT_VALUES, *_GAP_VALUES).iterator(chunk_size=FETCH_ROWS):
        row = list(values[: len(_ACCOUNT_VALUES)])
        row[roles] = [_unwrap(text) for text in row[roles]]
        flags = values[len(_ACCOUNT_VALUES) :]
        row.append(_joined(code for code, flag in zip(labels, flags, strict=True) if flag))
        yield row


def _unwrap(text: str | None) -> str:
    return text[2:-2].replace('", "', LIST_SEPARATOR) if text else ""


def aggregate_rows(snapshot: Snapshot) -> Iterator[tuple]:
    """The snapshot's stored aggregates, one row per group: the cycle, each tier, each sales
    owner, each marketing owner (an empty owner: the accounts with none)."""
    aggregates = snapshot.aggregates

    def row(group: str, metrics: dict, *, tier=None, owner=None) -> tuple:
        return (
            group,
            tier,
            (owner or {}).get("username"),
            (owner or {}).get("name"),
            metrics["accounts"],
            metrics["fully_covered_share"],
            metrics["engaged_or_further_share"],
            metrics["open_pipeline"],
            metrics["won_amount"],
            *(metrics["gaps"].get(code, 0) for code in Gap.values),
        )

    if "cycle" in aggregates:
        yield row("cycle", aggregates["cycle"])
    for metrics in aggregates.get("tiers", []):
        yield row("tier", metrics, tier=metrics["tier"])
    for side in ("sales", "marketing"):
        for metrics in aggregates.get(f"{side}_owners", []):
            yield row(f"{side}_owner", metrics, owner=metrics["owner"])


def agreed_list(cycle: Cycle) -> QuerySet[TargetAccount]:
    """The cycle's active entries, in the cycle page's order (tier, account name)."""
    return TargetAccount.objects.filter(cycle=cycle, removed_at__isnull=True).order_by(
        "tier", "account__name", "pk"
    )


def list_rows(entries: QuerySet[TargetAccount]) -> Iterator[tuple]:
    base = settings.SITE_URL
    # reverse() once: the path of every nomination differs only by its id.
    pattern = reverse("workflow:nomination", args=[1]).replace("/1/", "/{}/")
    zone = timezone.get_current_timezone()
    for (
        account_id,
        key,
        name,
        domain,
        tier,
        sales,
        sales_email,
        marketing,
        marketing_email,
        added_at,
        nomination_id,
    ) in entries.values_list(
        "account_id",
        "account__key",
        "account__name",
        "account__domain",
        "tier",
        "sales_owner__username",
        "sales_owner__email",
        "marketing_owner__username",
        "marketing_owner__email",
        "added_at",
        "nomination_id",
    ).iterator(chunk_size=FETCH_ROWS):
        yield (
            account_id,
            key,
            name,
            domain,
            tier,
            sales,
            sales_email,
            marketing,
            marketing_email,
            added_at.astimezone(zone).isoformat(),
            nomination_id,
            base + pattern.format(nomination_id),
        )
