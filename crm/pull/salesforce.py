"""Reading Salesforce with SOQL: Account, Contact, Opportunity, Task, Event, the contacts' roles
(OpportunityContactRole, AccountContactRole) and campaign responses (CampaignMember).

Each pass runs one query per object, `WHERE SystemModstamp >= <since> [AND Id > '<last id>']
ORDER BY Id`, and follows `nextRecordsUrl` until `done` (2,000 records a page): Salesforce keeps
the query's cursor, so there is no result cap to work around. The Id bound resumes a pass that
was cut short.

A contact's buying roles are all the roles it has at its account (AccountContactRole) and on
opportunities (OpportunityContactRole), each once. So that they do not depend on which role
record changed, a page of role records reads every role record of its contacts (`roles_of`).

A campaign member that has responded (`HasResponded`) is a marketing touch of its contact on
`FirstRespondedDate`, named after its campaign (`Campaign.Name`); a lead's membership is not
(leads belong to no account).

Requests go through the Salesforce adapter's transport (crm/adapters/): the same OAuth token
(renewed on 401), shared rate limit, retries and REQUEST_LIMIT_EXCEEDED handling as a push.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from accounts_app.countries import country_code_or_blank
from accounts_app.models import ActivityKind, OpportunityStatus
from core.roles import Side
from crm.adapters.base import CrmError, answer_body, chunks, describe
from crm.pull import records as r

OBJECT_TYPES = (
    "Account",
    "Contact",
    "Opportunity",
    "Task",
    "Event",
    "OpportunityContactRole",
    "AccountContactRole",
    "CampaignMember",
)
FIELDS = {
    "Account": [
        "Id",
        "Name",
        "Website",
        "Industry",
        "NumberOfEmployees",
        "AnnualRevenue",
        "BillingCountry",
    ],
    "Contact": ["Id", "AccountId", "FirstName", "LastName", "Email", "Title", "LastActivityDate"],
    "Opportunity": [
        "Id",
        "AccountId",
        "Name",
        "StageName",
        "Amount",
        "CloseDate",
        "IsClosed",
        "IsWon",
    ],
    "Task": [
        "Id",
        "WhoId",
        "AccountId",
        "Subject",
        "Type",
        "TaskSubtype",
        "ActivityDate",
        "CompletedDateTime",
    ],
    "Event": [
        "Id",
        "WhoId",
        "AccountId",
        "Subject",
        "ActivityDate",
        "ActivityDateTime",
        "StartDateTime",
    ],
    "OpportunityContactRole": ["Id", "ContactId", "Role", "IsPrimary"],
    "AccountContactRole": ["Id", "ContactId", "Role", "IsPrimary"],
    "CampaignMember": [
        "Id",
        "CampaignId",
        "Campaign.Name",
        "ContactId",
        "HasResponded",
        "FirstRespondedDate",
    ],
}
PAGE_SIZE = 2000
ID_IN_CHUNK = 200  # ids in one IN (…): keeps the query URL well under Salesforce's limit
_ID = re.compile(r"^[A-Za-z0-9]{15,18}$")

# Which activities are sales touches: a task's subtype (else its type); every event is a meeting.
TASK_KINDS = {
    "call": ActivityKind.CALL,
    "email": ActivityKind.EMAIL,
    "listemail": ActivityKind.EMAIL,
    "meeting": ActivityKind.MEETING,
}


@dataclass
class Page:
    records: list
    last_id: str
    read: int


def soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class SalesforceReader:
    backend = "salesforce"
    object_types = OBJECT_TYPES

    def __init__(self, adapter, *, multi_currency: bool = False):
        self.adapter = adapter
        self.transport = adapter.transport
        self.multi_currency = multi_currency

    @property
    def stats(self):
        return self.transport.stats

    def close(self) -> None:
        self.adapter.close()

    # --- requests ---

    def _get(self, url: str, *, params: dict | None = None, page_size: int = PAGE_SIZE) -> dict:
        if not self.adapter.instance_url:
            self.adapter.authenticate()
        if url.startswith("/"):
            url = self.adapter.instance_url + url
        response = self.transport.request(
            "GET",
            url,
            params=params,
            headers={"Sforce-Query-Options": f"batchSize={page_size}"},
            idempotent=True,
            on_unauthorized=self.adapter.authenticate,
        )
        if response.status_code != 200:
            raise CrmError(
                f"Salesforce refused a query ({response.status_code}): {describe(response)}",
                response=answer_body(response),
            )
        return response.json()

    def _query_path(self) -> str:
        return f"/services/data/v{self.adapter.api_version}/query"

    def soql(self, object_type: str, *, since: datetime | None, after_id: str = "") -> str:
        fields = list(FIELDS[object_type])
        if object_type == "Opportunity" and self.multi_currency:
            fields.append("CurrencyIsoCode")
        conditions = []
        if since is not None:
            conditions.append(f"SystemModstamp >= {soql_datetime(since)}")
        if after_id:
            if not _ID.match(after_id):
                raise CrmError(f"Not a Salesforce id: {after_id!r}")
            conditions.append(f"Id > '{after_id}'")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {', '.join(fields)} FROM {object_type}{where} ORDER BY Id"

    # --- the reader's interface ---

    def count(self, object_type: str, *, since: datetime | None, after_id: str = "") -> int:
        page = self._get(
            self._query_path(),
            params={"q": self.soql(object_type, since=since, after_id=after_id)},
            page_size=200,
        )
        return int(page.get("totalSize") or 0)

    def pages(
        self, object_type: str, *, since: datetime | None, after_id: str = ""
    ) -> Iterator[Page]:
        page = self._get(
            self._query_path(), params={"q": self.soql(object_type, since=since, after_id=after_id)}
        )
        while True:
            rows = page.get("records") or []
            if rows:
                yield Page(self.convert(object_type, rows), str(rows[-1]["Id"]), len(rows))
            if page.get("done", True) or not page.get("nextRecordsUrl"):
                return
            page = self._get(page["nextRecordsUrl"])

    def read(self, object_type: str, ids: list[str]) -> tuple[list, list[str]]:
        found: list = []
        wanted = [i for i in dict.fromkeys(ids) if _ID.match(i)]
        for group in chunks(wanted, ID_IN_CHUNK):
            quoted = ", ".join(f"'{i}'" for i in group)
            query = (
                f"SELECT {', '.join(FIELDS[object_type])} FROM {object_type} "
                f"WHERE Id IN ({quoted}) ORDER BY Id"
            )
            page = self._get(self._query_path(), params={"q": query})
            while True:
                found.extend(self.convert(object_type, page.get("records") or []))
                if page.get("done", True) or not page.get("nextRecordsUrl"):
                    break
                page = self._get(page["nextRecordsUrl"])
        seen = {getattr(record, "crm_id", "").rsplit(":", 1)[-1] for record in found}
        return found, [i for i in wanted if i not in seen]

    def roles_of(self, contact_ids: list[str]) -> dict[str, list[r.RoleLink]]:
        """Every account and opportunity role of these contacts: a contact's role is chosen
        from all of them (crm.pull.store.roles_from)."""
        found: dict[str, list[r.RoleLink]] = {}
        wanted = [i for i in dict.fromkeys(contact_ids) if _ID.match(i)]
        for object_type in ("AccountContactRole", "OpportunityContactRole"):
            for group in chunks(wanted, ID_IN_CHUNK):
                quoted = ", ".join(f"'{i}'" for i in group)
                query = (
                    f"SELECT {', '.join(FIELDS[object_type])} FROM {object_type} "
                    f"WHERE ContactId IN ({quoted})"
                )
                page = self._get(self._query_path(), params={"q": query})
                while True:
                    for link in self.convert(object_type, page.get("records") or []):
                        found.setdefault(link.contact_id, []).append(link)
                    if page.get("done", True) or not page.get("nextRecordsUrl"):
                        break
                    page = self._get(page["nextRecordsUrl"])
        return found

    # --- converting ---

    def convert(self, object_type: str, rows: list[dict]) -> list:
        convert = {
            "Account": self.company,
            "Contact": self.person,
            "Opportunity": self.deal,
            "Task": self.task,
            "Event": self.event,
            "OpportunityContactRole": lambda row: self.role(row, on_account=False),
            "AccountContactRole": lambda row: self.role(row, on_account=True),
            "CampaignMember": self.campaign_response,
        }[object_type]
        return [convert(row) for row in rows]

    @staticmethod
    def company(row: dict) -> r.Company:
        return r.Company(
            crm_id=str(row["Id"]),
            name=r.text(row.get("Name"), 200),
            domain=str(row.get("Website") or "").strip(),
            industry=r.text(row.get("Industry"), 100),
            employee_count=r.whole(row.get("NumberOfEmployees")),
            annual_revenue=r.amount(row.get("AnnualRevenue")),
            country=country_code_or_blank(row.get("BillingCountry")),
        )

    @staticmethod
    def person(row: dict) -> r.Person:
        return r.Person(
            crm_id=str(row["Id"]),
            company_id=str(row.get("AccountId") or ""),
            email=str(row.get("Email") or "").strip(),
            first_name=r.text(row.get("FirstName"), 100),
            last_name=r.text(row.get("LastName"), 100),
            title=r.text(row.get("Title"), 200),
            last_engaged_at=r.moment(row.get("LastActivityDate")),
        )

    def deal(self, row: dict) -> r.Deal:
        if row.get("IsWon"):
            status = OpportunityStatus.WON
        elif row.get("IsClosed"):
            status = OpportunityStatus.LOST
        else:
            status = OpportunityStatus.OPEN
        return r.Deal(
            crm_id=str(row["Id"]),
            company_id=str(row.get("AccountId") or ""),
            name=r.text(row.get("Name"), 200) or f"Salesforce opportunity {row['Id']}",
            stage=r.text(row.get("StageName"), 100),
            amount=r.amount(row.get("Amount")),
            currency=r.text(row.get("CurrencyIsoCode"), 3).upper() if self.multi_currency else "",
            status=status,
            close_date=r.day(row.get("CloseDate")),
        )

    @staticmethod
    def _who(row: dict) -> str:
        who = str(row.get("WhoId") or "")
        return who if who.startswith("003") else ""  # a contact, not a lead

    def task(self, row: dict) -> r.Touch:
        subtype = str(row.get("TaskSubtype") or "").lower()
        kind = TASK_KINDS.get(subtype) or TASK_KINDS.get(str(row.get("Type") or "").lower(), "")
        return r.Touch(
            crm_id=f"salesforce:Task:{row['Id']}",
            kind=kind,  # "" for a to-do that is no sales touch: not kept
            company_id=str(row.get("AccountId") or ""),
            contact_id=self._who(row),
            occurred_at=r.moment(row.get("CompletedDateTime")) or r.moment(row.get("ActivityDate")),
            subject=r.text(row.get("Subject"), 200),
        )

    def event(self, row: dict) -> r.Touch:
        return r.Touch(
            crm_id=f"salesforce:Event:{row['Id']}",
            kind=ActivityKind.MEETING,
            company_id=str(row.get("AccountId") or ""),
            contact_id=self._who(row),
            occurred_at=r.moment(row.get("ActivityDateTime"))
            or r.moment(row.get("StartDateTime"))
            or r.moment(row.get("ActivityDate")),
            subject=r.text(row.get("Subject"), 200),
        )

    @staticmethod
    def campaign_response(row: dict) -> r.Touch:
        campaign = row.get("Campaign") or {}
        responded = bool(row.get("HasResponded"))
        return r.Touch(
            crm_id=f"salesforce:CampaignMember:{row['Id']}",
            kind=ActivityKind.CAMPAIGN_RESPONSE if responded else "",  # "": only sent, not kept
            contact_id=str(row.get("ContactId") or ""),
            occurred_at=r.moment(row.get("FirstRespondedDate")),
            subject=r.text(campaign.get("Name"), 200),
            side=Side.MARKETING,
        )

    @staticmethod
    def role(row: dict, *, on_account: bool) -> r.RoleLink:
        return r.RoleLink(
            crm_id=str(row["Id"]),
            contact_id=str(row.get("ContactId") or ""),
            role=r.salesforce_role(row.get("Role")),
            on_account=on_account,
            is_primary=bool(row.get("IsPrimary")),
        )
