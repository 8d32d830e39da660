from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.models import Account, IcpState, IcpVersion, Source
from accounts_app.scoring import fit_score, validate_criteria
from core import hooks
from core.agreements import agreed_version_create, agreed_version_sign_off, agreed_version_submit
from workflow.errors import Conflict, Invalid, NotAllowed
from workflow.roles import (
    Side,
    is_member,
    is_on_side,
    require_ops,
)
from workflow.text import single_line

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
    icp = icp if icp is not None else effective_icp()
    if icp is not None:
        account.fit_score = fit_score(icp.criteria, account)
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError:
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
    for key, value in _clean_fields(fields).items():
        setattr(account, key, value)
    icp = effective_icp()
    if icp is not None:
        account.fit_score = fit_score(icp.criteria, account)
    with transaction.atomic():
        account.save()
        # New owners reach the account's entries on open lists, and the CRM: same transaction.
        hooks.account_changed.send(sender=Account, account=account)
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
