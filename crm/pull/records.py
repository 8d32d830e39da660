"""What a reader hands to the store: the CRM's records in one shape for every CRM, and the
small conversions both readers need (dates, numbers, buying roles)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from accounts_app.models import ActivityKind, BuyingRole, OpportunityStatus
from core.roles import Side

# --- records ---------------------------------------------------------------------------------


@dataclass
class Company:
    crm_id: str
    name: str = ""
    domain: str = ""  # as the CRM has it; the store normalises it
    industry: str = ""
    employee_count: int | None = None
    annual_revenue: Decimal | None = None
    country: str = ""


@dataclass
class Person:
    """A contact."""

    crm_id: str
    company_id: str = ""  # the CRM id of its (primary) company
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    roles: list[str] = field(default_factory=list)  # BuyingRole values, in the CRM's order
    last_engaged_at: datetime | None = None
    # Marketing touches the CRM keeps on the contact record itself (HubSpot's last web visit,
    # last marketing e-mail click, last form fill): written with the contact.
    touches: list[Touch] = field(default_factory=list)


@dataclass
class Deal:
    crm_id: str
    company_id: str = ""
    contact_ids: list[str] = field(default_factory=list)
    name: str = ""
    stage: str = ""
    amount: Decimal | None = None
    currency: str = ""
    status: str = OpportunityStatus.OPEN
    close_date: date | None = None


@dataclass
class Touch:
    """An activity: a sales touch (a call, a meeting, a one-to-one e-mail) or a marketing one
    (a web visit, a marketing e-mail click, a form fill, a campaign response)."""

    crm_id: str  # Accord's Activity.crm_id: "<backend>:<object type>:<the CRM's id>[:…]"
    kind: str = ActivityKind.CALL
    company_id: str = ""
    contact_id: str = ""
    occurred_at: datetime | None = None
    subject: str = ""
    side: str = Side.SALES


@dataclass
class RoleLink:
    """Salesforce: a contact's role at an account (AccountContactRole) or on an opportunity
    (OpportunityContactRole)."""

    crm_id: str
    contact_id: str
    role: str  # a BuyingRole value
    on_account: bool
    is_primary: bool = False


# --- buying roles ----------------------------------------------------------------------------

# Salesforce's default contact roles (AccountContactRole.Role, OpportunityContactRole.Role), and
# common additions, by their lower-case label. Any other label: `other`.
SALESFORCE_ROLES = {
    "decision maker": BuyingRole.DECISION_MAKER,
    "economic decision maker": BuyingRole.BUDGET_HOLDER,
    "economic buyer": BuyingRole.BUDGET_HOLDER,
    "budget holder": BuyingRole.BUDGET_HOLDER,
    "executive sponsor": BuyingRole.EXECUTIVE_SPONSOR,
    "champion": BuyingRole.CHAMPION,
    "influencer": BuyingRole.INFLUENCER,
    "evaluator": BuyingRole.INFLUENCER,
    "technical buyer": BuyingRole.INFLUENCER,
    "business user": BuyingRole.END_USER,
    "end user": BuyingRole.END_USER,
    "blocker": BuyingRole.BLOCKER,
    "legal": BuyingRole.LEGAL_AND_COMPLIANCE,
    "legal and compliance": BuyingRole.LEGAL_AND_COMPLIANCE,
    "other": BuyingRole.OTHER,
}
_ROLE_VALUES = {role.value for role in BuyingRole}


def hubspot_roles(value: Any) -> list[str]:
    """`hs_buying_role` is a multi-select: "DECISION_MAKER;CHAMPION". Its values are Accord's
    in capitals; a value HubSpot's admins added themselves is `other`."""
    roles = []
    for part in str(value or "").split(";"):
        part = part.strip().lower()
        if not part:
            continue
        role = part if part in _ROLE_VALUES and part != BuyingRole.UNKNOWN else BuyingRole.OTHER
        if role not in roles:
            roles.append(role)
    return roles


def salesforce_role(label: Any) -> str:
    text = " ".join(str(label or "").replace("_", " ").split()).lower()
    if not text:
        return ""
    return SALESFORCE_ROLES.get(text, BuyingRole.OTHER)


# --- values ----------------------------------------------------------------------------------

_DIGITS = re.compile(r"^-?\d+$")


def moment(value: Any) -> datetime | None:
    """A CRM date-time: epoch milliseconds (HubSpot, as text or number), ISO 8601 with `Z` or
    an offset (`+0000` too, as Salesforce writes it), or a date (midnight UTC)."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and _DIGITS.match(value)):
        try:
            return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    text = str(value).strip()
    if re.search(r"[+-]\d{4}$", text):
        text = text[:-2] + ":" + text[-2:]
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        try:
            return datetime.combine(date.fromisoformat(text[:10]), time(), tzinfo=UTC)
        except ValueError:
            return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def day(value: Any) -> date | None:
    if value is None or value == "":
        return None
    found = moment(value)
    return found.date() if found else None


def latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def amount(value: Any) -> Decimal | None:
    """A money amount Accord can keep (not negative, 14 digits before the point), else None."""
    if value is None or value == "":
        return None
    try:
        number = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    if number < 0 or number >= Decimal("1e14"):
        return None
    return number


def whole(value: Any) -> int | None:
    try:
        number = int(Decimal(str(value)))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return number if 0 <= number <= 2_147_483_647 else None


def text(value: Any, limit: int) -> str:
    return " ".join(str(value or "").split())[:limit]
