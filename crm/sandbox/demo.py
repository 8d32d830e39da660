"""What the demo's HubSpot sandbox holds about the demo's accounts: contacts in buying roles
(several per account, some in two), deals (open, won and lost) and engagement of both funnels
over the last 120 days — sales' calls, meetings and one-to-one e-mails, and marketing's web
visits, marketing e-mail clicks and form fills as HubSpot keeps them on each contact.

Plain data in, seed specs out (`HubSpotSandbox.seed`): no Django here, so the sandbox stays a
stand-alone fake. `manage.py crm_sandbox_demo` feeds it the demo's accounts and loads the specs
through the sandbox's seed hook, in three requests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .hubspot import iso

DAYS = 120
# Accord's role → HubSpot's `hs_buying_role` option.
ROLE_OPTION = {
    "decision_maker": "DECISION_MAKER",
    "champion": "CHAMPION",
    "budget_holder": "BUDGET_HOLDER",
    "influencer": "INFLUENCER",
    "end_user": "END_USER",
    "executive_sponsor": "EXECUTIVE_SPONSOR",
    "blocker": "BLOCKER",
    "legal_and_compliance": "LEGAL_AND_COMPLIANCE",
    "other": "OTHER",
}
PAGES = ["/pricing", "/product/coverage", "/customers", "/blog/abm-playbook", "/demo"]
EMAILS = ["March newsletter", "ABM playbook launch", "Webinar invitation", "Customer stories"]
FORMS = ["Demo request", "Playbook download", "Webinar registration", "Contact us"]
OPEN_STAGES = ["appointmentscheduled", "qualifiedtobuy", "presentationscheduled", "contractsent"]
TOUCHES = {
    "calls": ("hs_call_title", ["Discovery call", "Follow-up call", "Pricing call"]),
    "meetings": ("hs_meeting_title", ["Demo", "Workshop", "Quarterly business review"]),
    "emails": ("hs_email_subject", ["Proposal", "Next steps", "Meeting notes"]),
}


@dataclass
class DemoContact:
    email: str
    first_name: str = ""
    last_name: str = ""
    title: str = ""
    roles: list[str] = field(default_factory=list)  # Accord's BuyingRole values


@dataclass
class DemoAccount:
    name: str
    domain: str
    company_id: str | None = None  # the HubSpot company, when the push made it already
    contacts: list[DemoContact] = field(default_factory=list)


def _moment(rng: random.Random, now: datetime, days: int = DAYS) -> datetime:
    return (now - timedelta(seconds=rng.randint(0, days * 86400))).replace(microsecond=0)


def companies(accounts: list[DemoAccount]) -> list[dict]:
    """The companies HubSpot does not have yet (the push creates only the agreed list's)."""
    return [
        {"properties": {"name": a.name, "domain": a.domain}} for a in accounts if not a.company_id
    ]


def contacts(accounts: list[DemoAccount], *, rng: random.Random, now: datetime) -> list[dict]:
    """Each demo contact (same e-mail, so the pull adopts Accord's contact rather than adding
    a second), some in one more role than Accord knows of, with marketing touches."""
    rows = []
    seen: set[str] = set()
    for account in accounts:
        for contact in account.contacts:
            if contact.email.lower() in seen:
                continue  # HubSpot's contacts are unique by e-mail address
            seen.add(contact.email.lower())
            roles = list(contact.roles)
            if rng.random() < 0.2:
                roles.append(rng.choice(sorted(ROLE_OPTION)))
            props = {
                "email": contact.email,
                "firstname": contact.first_name,
                "lastname": contact.last_name,
                "jobtitle": contact.title,
                "associatedcompanyid": account.company_id,
                "hs_buying_role": ";".join(dict.fromkeys(ROLE_OPTION[r] for r in roles)),
            }
            if rng.random() < 0.65:
                props["hs_analytics_last_visit_timestamp"] = iso(_moment(rng, now))
                props["hs_analytics_last_url"] = f"https://accord.example{rng.choice(PAGES)}"
            if rng.random() < 0.4:
                props["hs_email_last_click_date"] = iso(_moment(rng, now))
                props["hs_email_last_email_name"] = rng.choice(EMAILS)
            if rng.random() < 0.25:
                props["recent_conversion_date"] = iso(_moment(rng, now))
                props["recent_conversion_event_name"] = rng.choice(FORMS)
            rows.append({"properties": {k: v for k, v in props.items() if v}})
    return rows


def deals_and_touches(
    accounts: list[DemoAccount],
    contact_ids: dict[str, str],
    *,
    rng: random.Random,
    now: datetime,
) -> tuple[dict[str, list[dict]], list[tuple[str, int, str, str]]]:
    """Deals and sales touches, and their associations as (type, row index, to type, to id):
    the ids of the new objects are known only once they are seeded."""
    rows: dict[str, list[dict]] = {"deals": [], "calls": [], "meetings": [], "emails": []}
    links: list[tuple[str, int, str, str]] = []
    for account in accounts:
        people = [contact_ids[c.email] for c in account.contacts if c.email in contact_ids]
        if rng.random() < 0.6:
            for number in range(rng.randint(1, 2)):
                stage = rng.choices(
                    [rng.choice(OPEN_STAGES), "closedwon", "closedlost"], weights=[6, 2, 2]
                )[0]
                close = now + timedelta(days=rng.randint(-90, 120))
                if stage in ("closedwon", "closedlost"):
                    close = now - timedelta(days=rng.randint(1, DAYS))
                rows["deals"].append(
                    {
                        "properties": {
                            "dealname": f"{account.name} — {'expansion' if number else 'platform'}",
                            "dealstage": stage,
                            "amount": str(rng.randint(20, 400) * 1000),
                            "closedate": iso(close.replace(hour=0, minute=0, second=0)),
                        }
                    }
                )
                index = len(rows["deals"]) - 1
                links.append(("deals", index, "companies", account.company_id or ""))
                if people:
                    links.append(("deals", index, "contacts", rng.choice(people)))
        for _ in range(rng.randint(1, 6) if people else 0):
            kind = rng.choice(sorted(TOUCHES))
            title, subjects = TOUCHES[kind]
            rows[kind].append(
                {
                    "properties": {
                        title: f"{rng.choice(subjects)} with {account.name}",
                        "hs_timestamp": iso(_moment(rng, now)),
                    }
                }
            )
            index = len(rows[kind]) - 1
            links.append((kind, index, "contacts", rng.choice(people)))
            links.append((kind, index, "companies", account.company_id or ""))
    return rows, links
