"""Writing what a pull read into accounts_app's models, one page at a time: a few queries to
find what Accord already has, then one bulk insert and one bulk update per page.

Who owns what (docs/crm.md, "Pull"):

- An account's name, domain, owners, parent and fit score are Accord's: a pull never changes
  them. It links the account to the CRM's company (the CRM id), found by that id, else by the
  account's domain; it fills the industry, employee count, annual revenue and country only where
  Accord has none (and then rescores the account against the effective profile). A company
  Accord does not know becomes a new account (source "CRM") when CRM_PULL_CREATE_ACCOUNTS is on.
- Contacts, opportunities and activities are the CRM's: each pull makes them match it, except
  that an empty value in the CRM does not erase one Accord has, a contact's last engagement
  only moves forward, and a contact the CRM gives no buying role keeps the roles Accord has.
  A contact the CRM gives roles holds exactly those (its ContactRole rows are replaced).
- Marketing touches HubSpot keeps on a contact (last web visit, e-mail click, form fill) become
  one activity per kind and moment: a later pull with the same moment writes nothing, a newer
  one adds an activity, and the earlier one stays.
- Records are joined to accounts by the CRM's company id, then (contacts) by the domain of
  their e-mail address. A record that belongs to no account Accord knows is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts_app.domains import normalise_domain
from accounts_app.models import (
    CRM_ID_FIELDS,
    Account,
    Activity,
    Contact,
    ContactRole,
    Opportunity,
    Source,
)
from accounts_app.scoring import fit_score
from core.errors import Invalid
from core.roles import Side
from crm.models import SyncRunError
from crm.pull import records as r

CONTACT_ID = {"hubspot": "hubspot_contact_id", "salesforce": "salesforce_contact_id"}
DEAL_ID = {"hubspot": "hubspot_deal_id", "salesforce": "salesforce_opportunity_id"}
CRM_LABEL = {"hubspot": "HubSpot", "salesforce": "Salesforce"}
FIRMOGRAPHICS = ("industry", "employee_count", "annual_revenue", "country")
PAIRS_PER_QUERY = 200  # (account, e-mail) pairs ORed in one query (SQLite's expression depth)


@dataclass
class Outcome:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: int = 0
    touches: int = 0  # activities a page of contacts added (HubSpot's marketing touches)
    errors: list[SyncRunError] = field(default_factory=list)

    COUNTS = ("read", "created", "updated", "unchanged", "skipped", "deleted", "failed", "touches")

    def add(self, other: Outcome) -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors.extend(other.errors)

    def counts(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in self.COUNTS}

    def refuse(self, run, object_type: str, crm_id: str, message: str, account_id=None) -> None:
        self.failed += 1
        self.errors.append(
            SyncRunError(
                run=run,
                object_type=object_type,
                object_key=crm_id,
                account_id=account_id,
                message=message[:5000],
            )
        )


def by_crm_ids(model, field: str, ids):
    """Rows whose CRM id is one of `ids`. The CRM ids' unique indexes leave out blank values;
    saying `<> ''` in the query lets PostgreSQL use them for IN lists of any length."""
    return model.objects.filter(**{f"{field}__in": [i for i in ids if i]}).exclude(**{field: ""})


def _differs(obj, values: dict) -> bool:
    return any(getattr(obj, name) != value for name, value in values.items())


def _keep(new: str, old: str) -> str:
    """The CRM's text, unless it is empty and Accord has one."""
    return new or old


# --- companies → accounts ---------------------------------------------------------------------


def apply_companies(*, backend: str, companies: list[r.Company], run, icp=None) -> Outcome:
    out = Outcome(read=len(companies))
    id_field = CRM_ID_FIELDS[backend]
    crm = CRM_LABEL[backend]
    by_crm = {
        getattr(a, id_field): a
        for a in by_crm_ids(Account, id_field, [c.crm_id for c in companies])
    }
    domains: dict[str, str] = {}
    for company in companies:
        try:
            domains[company.crm_id] = normalise_domain(company.domain) if company.domain else ""
        except Invalid:
            domains[company.crm_id] = ""
    wanted = {d for cid, d in domains.items() if d and cid not in by_crm}
    by_domain = {a.domain: a for a in Account.objects.filter(domain__in=wanted)}
    create = settings.CRM_PULL_CREATE_ACCOUNTS
    now = timezone.now()
    new: list[Account] = []
    changed: dict[int, Account] = {}
    fields: set[str] = set()
    for company in companies:
        account = by_crm.get(company.crm_id)
        domain = domains[company.crm_id]
        linked = False
        if account is None and domain:
            account = by_domain.get(domain)
            if account is not None:
                held = getattr(account, id_field)
                if held and held != company.crm_id:
                    out.refuse(
                        run,
                        "company",
                        company.crm_id,
                        f"{account.name} ({domain}) is already linked to {crm} company {held}, "
                        f"which has the same domain: a duplicate in {crm}? Merge them there, or "
                        "change the account's CRM id in Accord.",
                        account_id=account.pk,
                    )
                    continue
                setattr(account, id_field, company.crm_id)
                linked = True
        if account is None:
            if not (create and domain):
                out.skipped += 1
                continue
            account = Account(
                name=company.name or domain,
                domain=domain,
                source=Source.CRM,
                **{id_field: company.crm_id},
                **{name: getattr(company, name) for name in FIRMOGRAPHICS},
            )
            if icp is not None:
                account.fit_score = fit_score(icp.criteria, account)
            new.append(account)
            by_domain[domain] = account
            out.created += 1
            continue
        if account.pk is None:  # created earlier in this page
            out.unchanged += 1
            continue
        filled = [
            name
            for name in FIRMOGRAPHICS
            if getattr(company, name) not in (None, "") and getattr(account, name) in (None, "")
        ]
        for name in filled:
            setattr(account, name, getattr(company, name))
        if filled and icp is not None:
            score = fit_score(icp.criteria, account)
            if score != account.fit_score:
                account.fit_score = score
                filled.append("fit_score")
        if linked or filled:
            account.updated_at = now
            changed[account.pk] = account
            fields.update(filled)
            if linked:
                fields.add(id_field)
            out.updated += 1
        else:
            out.unchanged += 1
    if new:
        Account.objects.bulk_create(new, batch_size=500)
    if changed:
        Account.objects.bulk_update(
            list(changed.values()), sorted(fields | {"updated_at"}), batch_size=500
        )
    return out


# --- contacts --------------------------------------------------------------------------------


def _accounts_by_crm_id(backend: str, crm_ids) -> dict[str, int]:
    id_field = CRM_ID_FIELDS[backend]
    ids = {i for i in crm_ids if i}
    if not ids:
        return {}
    return dict(by_crm_ids(Account, id_field, ids).values_list(id_field, "pk"))


def apply_people(*, backend: str, people: list[r.Person], run) -> Outcome:
    out = Outcome(read=len(people))
    id_field = CONTACT_ID[backend]
    existing = {
        getattr(c, id_field): c for c in by_crm_ids(Contact, id_field, [p.crm_id for p in people])
    }
    by_company = _accounts_by_crm_id(backend, (p.company_id for p in people))
    mail_domains = {
        p.crm_id: p.email.rsplit("@", 1)[1].strip().lower()
        for p in people
        if "@" in p.email and by_company.get(p.company_id) is None
    }
    by_domain = dict(
        Account.objects.filter(domain__in=set(mail_domains.values())).values_list("domain", "pk")
    )
    account_of: dict[str, int] = {}
    for person in people:
        account_id = by_company.get(person.company_id) or by_domain.get(
            mail_domains.get(person.crm_id, "")
        )
        if account_id is None and person.crm_id in existing:
            account_id = existing[person.crm_id].account_id  # its company is not in Accord now
        if account_id is not None:
            account_of[person.crm_id] = account_id
    # Contacts of these accounts with these e-mails (as the CRM writes them, or in lower case,
    # as the pull stores them): one probe of the (account, e-mail) unique index per pair, so
    # the cost of a page does not grow with the number of contacts.
    pairs = {
        (account_of[p.crm_id], email)
        for p in people
        if p.email and p.crm_id in account_of
        for email in (p.email, p.email.lower())
    }
    holders = {}
    pairs = sorted(pairs)
    for start in range(0, len(pairs), PAIRS_PER_QUERY):
        wanted = Q()
        for account_id, email in pairs[start : start + PAIRS_PER_QUERY]:
            wanted |= Q(account_id=account_id, email=email)
        for c in Contact.objects.filter(wanted).exclude(email=""):
            holders[(c.account_id, c.email.lower())] = c
    claimed: set[tuple[int, str]] = set()
    now = timezone.now()
    held = _roles_held([*existing.values(), *holders.values()])
    new: list[Contact] = []
    changed: list[Contact] = []
    roles_of: dict[int, list[str]] = {}  # id() of the contact → the roles it must hold
    written: dict[str, Contact] = {}  # CRM id → the contact written for it
    for person in people:
        account_id = account_of.get(person.crm_id)
        if account_id is None:
            out.skipped += 1
            continue
        contact = existing.get(person.crm_id)
        email = person.email.lower()[:254]
        key = (account_id, email)
        if email:
            holder = holders.get(key)
            if key in claimed or (
                holder is not None
                and (contact is None or holder.pk != contact.pk)
                and not (contact is None and getattr(holder, id_field) == "")
            ):
                out.refuse(
                    run,
                    "contact",
                    person.crm_id,
                    f"Another contact of this account already has the e-mail {email}: a "
                    f"duplicate in {CRM_LABEL[backend]}?",
                    account_id=account_id,
                )
                continue
            if contact is None and holder is not None:
                contact = holder  # made in Accord before: it is this CRM contact from now on
            claimed.add(key)
        values = {
            "account_id": account_id,
            "first_name": _keep(person.first_name, contact.first_name if contact else ""),
            "last_name": _keep(person.last_name, contact.last_name if contact else ""),
            "email": _keep(email, contact.email if contact else ""),
            "title": _keep(person.title, contact.title if contact else ""),
            "last_engaged_at": r.latest(
                contact.last_engaged_at if contact else None, person.last_engaged_at
            ),
            id_field: person.crm_id,
        }
        # No role in the CRM: the contact keeps the roles Accord has.
        new_roles = person.roles and (
            contact is None or set(person.roles) != held.get(contact.pk, set())
        )
        if contact is None:
            contact = Contact(**values)
            new.append(contact)
            out.created += 1
        elif new_roles or _differs(contact, values):
            for name, value in values.items():
                setattr(contact, name, value)
            contact.updated_at = now
            changed.append(contact)
            out.updated += 1
        else:
            out.unchanged += 1
        if new_roles:
            roles_of[id(contact)] = person.roles
        written[person.crm_id] = contact
    if new:
        Contact.objects.bulk_create(new, batch_size=500)
    if changed:
        Contact.objects.bulk_update(
            changed,
            [
                "account_id",
                "first_name",
                "last_name",
                "email",
                "title",
                "last_engaged_at",
                id_field,
                "updated_at",
            ],
            batch_size=500,
        )
    _replace_roles(
        {c.pk: roles_of[id(c)] for c in (*new, *changed) if id(c) in roles_of},
        had_none={c.pk for c in new},
    )
    touches = [t for person in people if person.crm_id in written for t in person.touches]
    if touches:
        added = Outcome()
        _write_touches(
            backend=backend,
            touches=touches,
            out=added,
            contacts={crm_id: (c.pk, c.account_id) for crm_id, c in written.items()},
        )
        out.touches += added.created
    return out


def _roles_held(contacts) -> dict[int, set[str]]:
    """{contact pk: its roles}, in one query."""
    held: dict[int, set[str]] = {}
    pks = {c.pk for c in contacts}
    if pks:
        for contact_id, role in ContactRole.objects.filter(contact_id__in=pks).values_list(
            "contact_id", "role"
        ):
            held.setdefault(contact_id, set()).add(role)
    return held


def _replace_roles(roles_by_contact: dict[int, list[str]], *, had_none=frozenset()) -> None:
    """Each of these contacts holds exactly these roles from now on: one delete, one insert,
    whatever the number of contacts."""
    if not roles_by_contact:
        return
    stale = [pk for pk in roles_by_contact if pk not in had_none]
    if stale:
        ContactRole.objects.filter(contact_id__in=stale).delete()
    ContactRole.objects.bulk_create(
        [
            ContactRole(contact_id=pk, role=role)
            for pk, roles in roles_by_contact.items()
            for role in dict.fromkeys(roles)
        ],
        batch_size=500,
    )


# --- deals → opportunities -------------------------------------------------------------------


def apply_deals(*, backend: str, deals: list[r.Deal], run) -> Outcome:
    out = Outcome(read=len(deals))
    id_field = DEAL_ID[backend]
    contact_field = CONTACT_ID[backend]
    existing = {
        getattr(o, id_field): o
        for o in by_crm_ids(Opportunity, id_field, [d.crm_id for d in deals])
    }
    by_company = _accounts_by_crm_id(backend, (d.company_id for d in deals))
    contact_ids = {c for d in deals if by_company.get(d.company_id) is None for c in d.contact_ids}
    by_contact = dict(
        by_crm_ids(Contact, contact_field, contact_ids).values_list(contact_field, "account_id")
    )
    default_currency = settings.CRM_PULL_DEFAULT_CURRENCY
    now = timezone.now()
    new: list[Opportunity] = []
    changed: list[Opportunity] = []
    for deal in deals:
        opportunity = existing.get(deal.crm_id)
        account_id = by_company.get(deal.company_id) or next(
            (by_contact[c] for c in deal.contact_ids if c in by_contact), None
        )
        if account_id is None:
            if opportunity is None:
                out.skipped += 1
                continue
            account_id = opportunity.account_id
        values = {
            "account_id": account_id,
            "name": deal.name,
            "stage": _keep(deal.stage, opportunity.stage if opportunity else ""),
            "amount": deal.amount,
            "currency": deal.currency or default_currency,
            "status": deal.status,
            "close_date": deal.close_date,
            id_field: deal.crm_id,
        }
        if opportunity is None:
            new.append(Opportunity(**values))
            out.created += 1
        elif _differs(opportunity, values):
            for name, value in values.items():
                setattr(opportunity, name, value)
            opportunity.updated_at = now
            changed.append(opportunity)
            out.updated += 1
        else:
            out.unchanged += 1
    if new:
        Opportunity.objects.bulk_create(new, batch_size=500)
    if changed:
        Opportunity.objects.bulk_update(
            changed,
            [
                "account_id",
                "name",
                "stage",
                "amount",
                "currency",
                "status",
                "close_date",
                id_field,
                "updated_at",
            ],
            batch_size=500,
        )
    return out


# --- activities (sales touches, campaign responses, contacts' marketing touches) ------------


def apply_touches(*, backend: str, touches: list[r.Touch], run) -> Outcome:
    """Calls, meetings and e-mails by the sales side, campaign responses by marketing."""
    out = Outcome(read=len(touches))
    _write_touches(backend=backend, touches=touches, out=out)
    return out


def _write_touches(
    *, backend: str, touches: list[r.Touch], out: Outcome, contacts: dict | None = None
) -> None:
    """Write these touches as activities, each by its `crm_id` (so a touch read again is
    never a second activity). Past sales touches move their contact's last engagement
    forward. `contacts`: {CRM contact id: (pk, account pk)} when the caller has them."""
    contact_field = CONTACT_ID[backend]
    existing = {a.crm_id: a for a in by_crm_ids(Activity, "crm_id", [t.crm_id for t in touches])}
    by_company = _accounts_by_crm_id(backend, (t.company_id for t in touches))
    if contacts is None:
        contacts = {
            crm_id: (pk, account_id)
            for crm_id, pk, account_id in by_crm_ids(
                Contact, contact_field, {t.contact_id for t in touches}
            ).values_list(contact_field, "pk", "account_id")
        }
    now = timezone.now()
    new: dict[str, Activity] = {}
    changed: list[Activity] = []
    engaged: dict[int, object] = {}
    for touch in touches:
        activity = existing.get(touch.crm_id)
        if not touch.kind or touch.occurred_at is None or touch.crm_id in new:
            out.skipped += 1  # a to-do, not a touch; no date to place it; or a repeat
            continue
        contact_pk, contact_account = contacts.get(touch.contact_id, (None, None))
        account_id = by_company.get(touch.company_id) or contact_account
        if account_id is None:
            if activity is None:
                out.skipped += 1
                continue
            account_id = activity.account_id
        if contact_account is not None and contact_account != account_id:
            contact_pk = None  # the contact is another account's now
        values = {
            "account_id": account_id,
            "contact_id": contact_pk,
            "kind": touch.kind,
            "side": touch.side,
            "occurred_at": touch.occurred_at,
            "subject": _keep(touch.subject, activity.subject if activity else ""),
            "crm_id": touch.crm_id,
        }
        if activity is None:
            new[touch.crm_id] = Activity(**values)
            out.created += 1
        elif _differs(activity, values):
            for name, value in values.items():
                setattr(activity, name, value)
            changed.append(activity)
            out.updated += 1
        else:
            out.unchanged += 1
        if touch.side == Side.SALES and contact_pk is not None and touch.occurred_at <= now:
            engaged[contact_pk] = max(engaged.get(contact_pk, touch.occurred_at), touch.occurred_at)
    if new:
        Activity.objects.bulk_create(list(new.values()), batch_size=500)
    if changed:
        Activity.objects.bulk_update(
            changed,
            ["account_id", "contact_id", "kind", "side", "occurred_at", "subject", "crm_id"],
            batch_size=500,
        )
    _engaged(engaged, now)


def _engaged(latest_by_contact: dict[int, object], now) -> None:
    if not latest_by_contact:
        return
    stale = []
    for contact in Contact.objects.filter(pk__in=list(latest_by_contact)).only(
        "pk", "last_engaged_at"
    ):
        moment = latest_by_contact[contact.pk]
        if contact.last_engaged_at is None or contact.last_engaged_at < moment:
            contact.last_engaged_at = moment
            contact.updated_at = now
            stale.append(contact)
    if stale:
        Contact.objects.bulk_update(stale, ["last_engaged_at", "updated_at"], batch_size=500)


# --- Salesforce contact roles ----------------------------------------------------------------


def roles_from(links: list[r.RoleLink]) -> list[str]:
    """A contact's roles: every role it has at its account or on an opportunity, once each."""
    return list(dict.fromkeys(link.role for link in links if link.role))


def apply_roles(
    *, backend: str, links: list[r.RoleLink], run, roles_by_contact: dict[str, list[r.RoleLink]]
) -> Outcome:
    """`roles_by_contact`: every role record (of both kinds) of the page's contacts, read from
    the CRM, so that a contact's roles do not depend on which record changed."""
    out = Outcome(read=len(links))
    contact_field = CONTACT_ID[backend]
    contacts = {
        getattr(c, contact_field): c
        for c in by_crm_ids(Contact, contact_field, {link.contact_id for link in links})
    }
    held = _roles_held(contacts.values())
    now = timezone.now()
    changed: dict[int, Contact] = {}
    replace: dict[int, list[str]] = {}
    for link in links:
        contact = contacts.get(link.contact_id)
        roles = roles_from(roles_by_contact.get(link.contact_id) or [link])
        if contact is None or not roles:
            out.skipped += 1
            continue
        if contact.pk in replace or set(roles) == held.get(contact.pk, set()):
            out.unchanged += 1
            continue
        contact.updated_at = now
        changed[contact.pk] = contact
        replace[contact.pk] = roles
        out.updated += 1
    if changed:
        Contact.objects.bulk_update(list(changed.values()), ["updated_at"], batch_size=500)
    _replace_roles(replace)
    return out


# --- objects the CRM no longer has (webhook pulls) ---------------------------------------------


def forget(*, backend: str, object_type: str, crm_ids: list[str]) -> int:
    """Objects a by-id read did not find any more (deleted or merged away in the CRM): their
    contacts, opportunities and activities go; an account only loses its link to the company."""
    if not crm_ids:
        return 0
    kind = kind_of(backend, object_type)
    if kind == "company":
        id_field = CRM_ID_FIELDS[backend]
        return by_crm_ids(Account, id_field, crm_ids).update(
            **{id_field: "", "updated_at": timezone.now()}
        )
    if kind == "contact":
        deleted, _ = by_crm_ids(Contact, CONTACT_ID[backend], crm_ids).delete()
    elif kind == "deal":
        deleted, _ = by_crm_ids(Opportunity, DEAL_ID[backend], crm_ids).delete()
    elif kind == "activity":
        keys = [f"{backend}:{object_type}:{i}" for i in crm_ids]
        deleted, _ = Activity.objects.filter(crm_id__in=keys).delete()
    else:
        return 0
    return deleted


KINDS = {
    "companies": "company",
    "contacts": "contact",
    "deals": "deal",
    "calls": "activity",
    "meetings": "activity",
    "emails": "activity",
    "Account": "company",
    "Contact": "contact",
    "Opportunity": "deal",
    "Task": "activity",
    "Event": "activity",
    "OpportunityContactRole": "role",
    "AccountContactRole": "role",
    "CampaignMember": "activity",
}


def kind_of(backend: str, object_type: str) -> str:
    return KINDS[object_type]


def apply(*, backend: str, object_type: str, records: list, run, icp=None, roles=None) -> Outcome:
    kind = kind_of(backend, object_type)
    if kind == "company":
        return apply_companies(backend=backend, companies=records, run=run, icp=icp)
    if kind == "contact":
        return apply_people(backend=backend, people=records, run=run)
    if kind == "deal":
        return apply_deals(backend=backend, deals=records, run=run)
    if kind == "activity":
        return apply_touches(backend=backend, touches=records, run=run)
    return apply_roles(backend=backend, links=records, run=run, roles_by_contact=roles or {})
