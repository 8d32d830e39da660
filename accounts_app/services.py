from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts_app.countries import country_code
from accounts_app.domains import normalise_domain
from accounts_app.models import Account, IcpSignOff, IcpState, IcpVersion, Source
from accounts_app.scoring import fit_score, validate_criteria
from workflow.errors import Conflict, Invalid, NotAllowed
from workflow.roles import (
    Side,
    is_approver,
    is_member,
    is_on_side,
    is_ops,
    require_approver,
    require_ops,
    side_of,
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
        from crm.services import account_changed_record

        # New owners reach the account's entries on open lists, and the CRM: same transaction.
        account_changed_record(account=account)
    return account


def icp_version_create(*, name: str, criteria: dict, by) -> IcpVersion:
    if not is_member(by):
        raise NotAllowed("Only people on a side or in revenue operations can draft a profile.")
    name = single_line(name, field="name", what="The profile's name")
    problems = validate_criteria(criteria)
    if problems:
        raise Invalid(" ".join(problems), field="criteria")
    with transaction.atomic():
        number = (IcpVersion.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        return IcpVersion.objects.create(
            number=number,
            name=name or f"ICP v{number}",
            criteria=criteria,
            proposed_by=by,
        )


def icp_version_submit(*, icp_version: IcpVersion, by) -> IcpVersion:
    """Put a draft profile up for both sides' sign-off. The person submitting it, if they are
    an approver of a side, counts as that side's approval (like a nomination's proposer)."""
    with transaction.atomic():
        icp_version = IcpVersion.objects.select_for_update().get(pk=icp_version.pk)
        if icp_version.proposed_by_id != by.pk and not is_ops(by):
            raise NotAllowed("Only the person who drafted this profile can submit it.")
        if icp_version.state != IcpState.DRAFT:
            raise Conflict(
                f"This profile is {icp_version.get_state_display().lower()}, not a draft."
            )
        icp_version.state = IcpState.IN_REVIEW
        icp_version.save(update_fields=["state"])
        side = side_of(by)
        if side is not None and is_approver(by):
            IcpSignOff.objects.create(
                icp_version=icp_version,
                person=by,
                side=side,
                approve=True,
                note="Proposed this version.",
            )
    return icp_version


def icp_sign_off(*, icp_version: IcpVersion, by, approve: bool, note: str = "") -> IcpVersion:
    """Record one approver's decision. A rejection from either side rejects the version; an
    approval from each side makes it effective, supersedes the previous one and rescores every
    account."""
    side = require_approver(by, "sign off an ideal customer profile")
    note = (note or "").strip()
    if not approve and not note:
        raise Invalid("Say why you reject this profile.", field="note")
    with transaction.atomic():
        icp_version = IcpVersion.objects.select_for_update().get(pk=icp_version.pk)
        if icp_version.state != IcpState.IN_REVIEW:
            raise Conflict(
                f"This profile is {icp_version.get_state_display().lower()}; "
                "only profiles in review can be signed off."
            )
        if icp_version.sign_offs.filter(person=by).exists():
            raise NotAllowed("You have already signed off this profile.")
        IcpSignOff.objects.create(
            icp_version=icp_version, person=by, side=side, approve=approve, note=note
        )
        if not approve:
            icp_version.state = IcpState.REJECTED
            icp_version.save(update_fields=["state"])
            return icp_version
        sides = set(icp_version.sign_offs.filter(approve=True).values_list("side", flat=True))
        if sides >= {Side.MARKETING.value, Side.SALES.value}:
            # Lock the effective version first: a second profile agreed at the same instant
            # then waits here and supersedes this one, instead of breaking the one-effective
            # constraint.
            list(IcpVersion.objects.select_for_update().filter(state=IcpState.EFFECTIVE))
            IcpVersion.objects.filter(state=IcpState.EFFECTIVE).update(state=IcpState.SUPERSEDED)
            icp_version.state = IcpState.EFFECTIVE
            icp_version.effective_at = timezone.now()
            icp_version.save(update_fields=["state", "effective_at"])
            accounts_rescore(icp=icp_version)
    return icp_version


def accounts_rescore(*, icp: IcpVersion, batch_size: int = 2000) -> int:
    """Recompute every account's fit score against `icp`. Returns the number changed."""
    changed = 0
    batch = []
    fields = (
        "id",
        "industry",
        "employee_count",
        "annual_revenue",
        "country",
        "region",
        "fit_score",
    )
    for account in Account.objects.only(*fields).order_by("pk").iterator(chunk_size=batch_size):
        score = fit_score(icp.criteria, account)
        if score != account.fit_score:
            account.fit_score = score
            batch.append(account)
        if len(batch) >= batch_size:
            Account.objects.bulk_update(batch, ["fit_score"])
            changed += len(batch)
            batch = []
    if batch:
        Account.objects.bulk_update(batch, ["fit_score"])
        changed += len(batch)
    return changed
