import dataclasses
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.models import (
    CRM_ID_FIELDS,
    Account,
    Activity,
    ActivityKind,
    Contact,
    IcpState,
    IcpVersion,
    Source,
)
from accounts_app.scoring import fit_score, validate_criteria
from core import hooks
from core.agreements import agreed_version_create, agreed_version_sign_off, agreed_version_submit
from core.errors import Conflict, Invalid, InvalidRows, NotAllowed
from core.roles import (
    Side,
    is_member,
    is_on_side,
    is_ops,
    require_ops,
)
from core.text import single_line

ACCOUNT_FIELDS = (
    "name",
    "industry",
    "employee_count",
    "annual_revenue",
    "country",
    "region",
    "parent",
    "sales_owner",
    "marketing_owner",
    "hubspot_company_id",
    "salesforce_account_id",
)


def effective_icp() -> IcpVersion | None:
    return IcpVersion.objects.filter(state=IcpState.EFFECTIVE).first()


def _clean_fields(fields: dict) -> dict:
    cleaned = {k: v for k, v in fields.items() if k in ACCOUNT_FIELDS}
    if "name" in cleaned:
        # The name reaches e-mail subjects and file names: one line.
        cleaned["name"] = single_line(cleaned["name"], field="name", what="The company's name")
        if not cleaned["name"]:
            raise Invalid("Enter the company's name.", field="name")
    for text_field in ("industry", "region"):
        if text_field in cleaned:
            cleaned[text_field] = single_line(
                cleaned[text_field], field=text_field, what=f"The {text_field}"
            )
    if "country" in cleaned:
        cleaned["country"] = country_code(cleaned["country"])
    for field, side in (("sales_owner", Side.SALES), ("marketing_owner", Side.MARKETING)):
        owner = cleaned.get(field)
        if owner is not None and not is_on_side(owner, side):
            raise Invalid(
                f"{owner.get_username()} is not on the {side.label.lower()} side, so they "
                f"cannot be the {side.label.lower()} owner.",
                field=field,
            )
    for numeric in ("employee_count", "annual_revenue"):
        value = cleaned.get(numeric)
        if value is not None and value != "" and Decimal(value) < 0:
            raise Invalid("This cannot be negative.", field=numeric)
    return cleaned


def account_crm_ids_check(fields: dict, *, account: Account | None = None) -> None:
    """A CRM id belongs to one account (a database constraint): refuse one another account has,
    saying which. The one check for the web form, the admin and the API."""
    for field in CRM_ID_FIELDS.values():
        value = fields.get(field)
        if not value:
            continue
        holders = Account.objects.filter(**{field: value})
        if account is not None:
            holders = holders.exclude(pk=account.pk)
        holder = holders.first()
        if holder is not None:
            raise Conflict(f"{holder.name} ({holder.domain}) already has this id.", field=field)


def account_create(
    *, name: str, domain: str, by=None, source: str = Source.MANUAL, icp=None, **fields
) -> Account:
    """Create an account with a normalised, unique domain and its fit score.

    `by` is the person creating it (None for imports run by the system).
    """
    if by is not None and not is_member(by):
        raise NotAllowed("Only people on a side or in revenue operations can add accounts.")
    domain = normalise_domain(domain)
    account = Account(domain=domain, source=source, **_clean_fields({"name": name, **fields}))
    existing = Account.objects.filter(domain=domain).first()
    if existing:
        raise Conflict(f"{existing.name} already uses the domain {domain}.", field="domain")
    account_crm_ids_check(fields)
    icp = icp if icp is not None else effective_icp()
    if icp is not None:
        account.fit_score = fit_score(icp.criteria, account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
        # Another account took the domain or a CRM id meanwhile: say which.
        account_crm_ids_check(fields)
        raise Conflict(
            f"Another account already uses the domain {domain}.", field="domain"
        ) from None
    return account


def account_update(*, account: Account, by, **fields) -> Account:
    require_ops(by, "edit accounts")
    if "domain" in fields:
        fields_domain = normalise_domain(fields.pop("domain"))
        if fields_domain != account.domain:
            if Account.objects.filter(domain=fields_domain).exclude(pk=account.pk).exists():
                raise Conflict(
                    f"Another account already uses the domain {fields_domain}.", field="domain"
                )
            account.domain = fields_domain
    account_crm_ids_check(fields, account=account)
    for key, value in _clean_fields(fields).items():
        setattr(account, key, value)
    icp = effective_icp()
    if icp is not None:
        account.fit_score = fit_score(icp.criteria, account)
    with transaction.atomic():
        account.save()
        # New owners reach the account's entries on open lists, and the CRM: same transaction.
        hooks.accounts_changed.send(sender=Account, accounts=[account])
    return account


def icp_version_create(*, name: str, criteria: dict, by) -> IcpVersion:
    """A draft profile (any member), with criteria checked in plain words."""
    problems = validate_criteria(criteria)
    if problems:
        raise Invalid(" ".join(problems), field="criteria")
    return agreed_version_create(model=IcpVersion, name=name, by=by, criteria=criteria)


def icp_version_submit(*, icp_version: IcpVersion, by) -> IcpVersion:
    """Put a draft profile up for both sides' sign-off (core.agreements)."""
    return agreed_version_submit(version=icp_version, by=by)


def icp_sign_off(*, icp_version: IcpVersion, by, approve: bool, note: str = "") -> IcpVersion:
    """One approver's decision (core.agreements): a rejection from either side rejects the
    profile; an approval from each side makes it effective, supersedes the previous one and
    queues the rescoring of every account (accounts_app.tasks.accounts_rescore)."""
    return agreed_version_sign_off(version=icp_version, by=by, approve=approve, note=note)


def accounts_rescore(*, icp: IcpVersion, batch_size: int = 2000) -> int:
    """Recompute every account's fit score against `icp`, in batches (one UPDATE each),
    recording progress on the profile for its page. Returns the number changed."""
    fields = ("id", "industry", "employee_count", "annual_revenue", "country", "region")
    accounts = Account.objects.only(*fields, "fit_score").order_by("pk")
    total = accounts.count()
    IcpVersion.objects.filter(pk=icp.pk).update(rescore_done=0, rescore_total=total)
    changed = done = 0
    batch = []
    for account in accounts.iterator(chunk_size=batch_size):
        score = fit_score(icp.criteria, account)
        if score != account.fit_score:
            account.fit_score = score
            batch.append(account)
        done += 1
        if done % batch_size == 0:
            changed += _write_scores(batch)
            batch = []
            IcpVersion.objects.filter(pk=icp.pk).update(rescore_done=done)
    changed += _write_scores(batch)
    IcpVersion.objects.filter(pk=icp.pk).update(rescore_done=done, rescored_at=timezone.now())
    return changed


def _write_scores(batch: list[Account]) -> int:
    if batch:
        Account.objects.bulk_update(batch, ["fit_score"])
    return len(batch)


# --- Activities from marketing tools, scripts and CSV files -------------------------------------

ACTIVITIES_PER_REQUEST = 1000
ACTIVITY_WRITE_PERMISSION = "accounts_app.add_activity"
ACCOUNT_NAMES = ("account", "account_key", "domain")  # the ways a row names its account
ACTIVITY_FIELDS = ("account_id", "contact_id", "kind", "side", "occurred_at", "subject")
# Once, not per row: the enums' `values` build a list each time (15% of a file's check).
_KINDS, _SIDES = frozenset(ActivityKind.values), frozenset(Side.values)
_EXTERNAL_ID = re.compile(r"^[\x21-\x7e]{1,100}$")


def require_activity_writer(by) -> None:
    """Revenue operations, and whoever ops granted `accounts_app.add_activity` (an integration
    token's user, a person running a script), may write activities."""
    if by is None or not by.is_authenticated:
        raise NotAllowed("Sign in to write activities.")
    if not (is_ops(by) or by.has_perm(ACTIVITY_WRITE_PERMISSION)):
        raise NotAllowed(
            "Writing activities needs the right to add activities: revenue operations grant "
            "it (permission accounts_app.add_activity) to an integration token's user or a "
            "person."
        )


def activity_external_key(*, by, external_id: str) -> str:
    """The Activity.crm_id of an activity a caller sent: its external id is unique per caller,
    so two tools with the same ids never overwrite each other's activities."""
    return f"api:{by.pk}:{external_id}"


class _Unread:
    def __repr__(self) -> str:
        return "UNREAD"


# A value its caller could not read (a CSV cell that is not an id, a key, a date) and has
# reported itself: the field counts as given, and is checked no further.
UNREAD = _Unread()


def _readable(value) -> bool:
    return value not in (None, "") and value is not UNREAD


@dataclasses.dataclass
class ActivityRow:
    """One row of activities, checked: the Activity's values (with its `crm_id`) when the rules
    found nothing wrong and every field was read, else empty; its problems by field."""

    values: dict = dataclasses.field(default_factory=dict)
    errors: dict[str, list[str]] = dataclasses.field(default_factory=dict)


class ActivityRules:
    """The rules of rows of activities: the one home of them for POST /api/v1/activities/
    (activities_ingest) and the CSV import of activities (accounts_app.imports.activities),
    which checks a file batch by batch with one instance.

    A row names its account by `account` (id), `account_key` (Account.key) or `domain`
    (normalised), exactly one of them, and the account exists; `contact_email`, if given, is a
    contact of that account; `kind` is an ActivityKind, `side` a Side; `external_id` is 1 to
    100 visible ASCII characters and appears once in all the rows this instance checks (the
    later row is refused with `repeated(first, external_id)`, `first` saying where the first
    one was). The activity's key is the caller's (activity_external_key). Accounts and contacts
    are found in a query each, whatever the number of rows.
    """

    def __init__(self, *, by, repeated: Callable[[Any, str], str]) -> None:
        self.by = by
        self.repeated = repeated
        self.first: dict[str, Any] = {}  # external_id → where it was first

    def check(
        self, rows: Sequence[dict], *, where: Sequence | None = None
    ) -> tuple[list[ActivityRow], list[tuple[int, str, str]]]:
        """Each row checked, and every problem as (index in `rows`, field, message) in the order
        found. `where` says where each row is (its index by default, a CSV file's line)."""
        where = range(len(rows)) if where is None else where
        checked = [ActivityRow() for _ in rows]
        problems: list[tuple[int, str, str]] = []

        def refuse(index: int, field: str, message: str) -> None:
            checked[index].errors.setdefault(field, []).append(message)
            problems.append((index, field, message))

        domains: dict[int, str] = {}
        for index, row in enumerate(rows):
            named = [f for f in ACCOUNT_NAMES if row.get(f) not in (None, "")]
            if len(named) != 1:
                refuse(
                    index,
                    "account",
                    "Name the account by exactly one of account (its id), account_key or domain.",
                )
            elif named == ["domain"] and row["domain"] is not UNREAD:
                try:
                    domains[index] = normalise_domain(row["domain"])
                except Invalid as error:
                    refuse(index, "domain", error.message)
            kind, side = row.get("kind"), row.get("side")
            if kind is not UNREAD and kind not in _KINDS:
                refuse(index, "kind", f"Not a kind of activity: {kind!r}.")
            if side is not UNREAD and side not in _SIDES:
                refuse(index, "side", "The side is marketing or sales.")
            external_id = row.get("external_id")
            if external_id is UNREAD:
                pass
            elif not isinstance(external_id, str) or not _EXTERNAL_ID.match(external_id):
                refuse(index, "external_id", "Use 1 to 100 visible ASCII characters.")
            elif external_id in self.first:
                refuse(index, "external_id", self.repeated(self.first[external_id], external_id))
            else:
                self.first[external_id] = where[index]

        accounts = _accounts_named(rows, domains)
        account_of: dict[int, int] = {}
        for index, row in enumerate(rows):
            if row.get("account") not in (None, ""):
                found, field = accounts["pk"].get(row["account"]), "account"
            elif row.get("account_key") not in (None, ""):
                found, field = accounts["key"].get(str(row["account_key"])), "account_key"
            elif index in domains:
                found, field = accounts["domain"].get(domains[index]), "domain"
            else:
                continue
            if row[field] is UNREAD:
                continue
            if found is None:
                refuse(index, field, "There is no such account.")
            else:
                account_of[index] = found

        emails = {
            index: row["contact_email"].strip().lower()
            for index, row in enumerate(rows)
            if _readable(row.get("contact_email")) and index in account_of
        }
        contacts: dict[tuple[int, str], int] = {}
        if emails:
            for pk, account_id, email in (
                Contact.objects.annotate(lower_email=Lower("email"))
                .filter(
                    account_id__in=set(account_of.values()), lower_email__in=set(emails.values())
                )
                .order_by("pk")
                .values_list("pk", "account_id", "lower_email")
            ):
                contacts.setdefault((account_id, email), pk)
        for index, email in emails.items():
            if (account_of[index], email) not in contacts:
                refuse(
                    index, "contact_email", "The account has no contact with this e-mail address."
                )

        for index, row in enumerate(rows):
            if checked[index].errors or any(value is UNREAD for value in row.values()):
                continue
            account_id = account_of[index]
            checked[index].values = {
                "account_id": account_id,
                "contact_id": contacts.get((account_id, emails.get(index, ""))),
                "kind": row["kind"],
                "side": row["side"],
                "occurred_at": row["occurred_at"],
                "subject": row.get("subject") or "",
                "crm_id": activity_external_key(by=self.by, external_id=row["external_id"]),
            }
        return checked, problems


def _accounts_named(rows: Sequence[dict], domains: dict[int, str]) -> dict[str, dict]:
    """The accounts the rows name, by id, by key and by domain: a query for each."""
    pks = {row["account"] for row in rows if isinstance(row.get("account"), int)}
    key_values = {str(row["account_key"]) for row in rows if _readable(row.get("account_key"))}
    found: dict[str, dict] = {"pk": {}, "key": {}, "domain": {}}
    if pks:
        found["pk"] = {
            pk: pk for pk in Account.objects.filter(pk__in=pks).values_list("pk", flat=True)
        }
    if key_values:
        found["key"] = {
            str(key): pk
            for key, pk in Account.objects.filter(key__in=key_values).values_list("key", "pk")
        }
    if domains:
        found["domain"] = dict(
            Account.objects.filter(domain__in=set(domains.values())).values_list("domain", "pk")
        )
    return found


def activities_compare(*, rows: Sequence[dict]) -> list[tuple[Activity, str]]:
    """Each row's activity (ActivityRow.values): the one with its crm_id set to the row's values,
    or a new one, with what writing it does: "created", "updated" or "unchanged". One query;
    nothing is saved (activities_save does)."""
    existing = {
        a.crm_id: a for a in Activity.objects.filter(crm_id__in=[row["crm_id"] for row in rows])
    }
    compared = []
    for values in rows:
        activity = existing.get(values["crm_id"])
        if activity is None:
            compared.append((Activity(**values), "created"))
        elif any(getattr(activity, name) != values[name] for name in ACTIVITY_FIELDS):
            for name in ACTIVITY_FIELDS:
                setattr(activity, name, values[name])
            compared.append((activity, "updated"))
        else:
            compared.append((activity, "unchanged"))
    return compared


def activities_save(*, compared: list[tuple[Activity, str]]) -> None:
    """Write what activities_compare found: one bulk insert, one bulk update. Call it in the
    transaction that compared, so that no other writer comes in between."""
    Activity.objects.bulk_create(
        [a for a, result in compared if result == "created"], batch_size=500
    )
    Activity.objects.bulk_update(
        [a for a, result in compared if result == "updated"], ACTIVITY_FIELDS, batch_size=500
    )


def activities_ingest(*, rows: list[dict], by) -> dict:
    """Write a batch of activities from a marketing automation tool or a script, all or nothing.

    1. Only a permitted caller (require_activity_writer); at most 1,000 rows.
    2. The rows are checked by ActivityRules: every bad row and field is reported at once
       (InvalidRows), and then nothing is written.
    3. A row is keyed by its caller's `external_id` (activity_external_key): sent again, it
       updates that activity instead of adding another. One bulk insert, one bulk update, in
       one transaction.

    Returns {"created": n, "updated": n, "unchanged": n, "activities": [{"index", "id",
    "external_id", "result"}]}.
    """
    require_activity_writer(by)
    if len(rows) > ACTIVITIES_PER_REQUEST:
        raise Invalid(
            f"Send at most {ACTIVITIES_PER_REQUEST:,} activities a request "
            f"(this one has {len(rows):,}).",
            field="rows",
        )
    rules = ActivityRules(by=by, repeated=lambda first, _: f"Row {first} has this external_id too.")
    checked, problems = rules.check(rows)
    if problems:
        errors: dict[str, list[str]] = {}
        for index, field_name, message in problems:
            errors.setdefault(f"rows.{index}.{field_name}", []).append(message)
        raise InvalidRows(errors)
    with transaction.atomic():
        compared = activities_compare(rows=[row.values for row in checked])
        activities_save(compared=compared)
    created = sum(1 for _, result in compared if result == "created")
    updated = sum(1 for _, result in compared if result == "updated")
    return {
        "created": created,
        "updated": updated,
        "unchanged": len(rows) - created - updated,
        "activities": [
            {"index": index, "id": activity.pk, "external_id": row["external_id"], "result": result}
            for index, (row, (activity, result)) in enumerate(zip(rows, compared, strict=True))
        ],
    }
