"""Reading HubSpot: companies, contacts, deals and sales activities (calls, meetings, e-mails),
and the marketing touches HubSpot keeps on each contact (last web visit, last marketing e-mail
click, last form fill).

Incremental reads use the CRM search API, whose answers stop at 10,000 results per query:
each query filters `<last modified> >= since` and `hs_object_id > <last id seen>`, sorts by
`hs_object_id`, and pages with `after` until the next page would pass 10,000; then the query
starts again from the last id seen. The same bound resumes a pass that was cut short.

A contact names its primary company in `associatedcompanyid`; deals and activities are joined
to companies and contacts with the v4 associations batch read (one request per page and kind).
Objects named by a webhook are read with `batch/read`, 100 at a time; those HubSpot no longer
has come back as missing.

Requests go through the HubSpot adapter's transport (crm/adapters/): the same token, shared rate
limits (searches also take the search limiter's token), retries and DAILY handling as a push.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts_app.countries import country_code_or_blank
from accounts_app.models import ActivityKind, OpportunityStatus
from core.roles import Side
from crm.adapters.base import CrmError, answer_body, chunks, describe
from crm.pull import records as r

SEARCH_PAGE = 200
SEARCH_CAP = 10_000  # results one search query can page through
BATCH_READ = 100
ASSOCIATIONS_BATCH = 1000

OBJECT_TYPES = ("companies", "contacts", "deals", "calls", "meetings", "emails")
ENGAGEMENTS = {
    "calls": (ActivityKind.CALL, "hs_call_title"),
    "meetings": (ActivityKind.MEETING, "hs_meeting_title"),
    "emails": (ActivityKind.EMAIL, "hs_email_subject"),
}
# The contact properties in which HubSpot keeps the latest marketing touch of each kind, with
# the property naming it. Only the latest is kept by HubSpot, so each pull that sees a newer
# value adds one activity; an earlier one stays in Accord.
MARKETING_TOUCHES = (
    ("hs_analytics_last_visit_timestamp", ActivityKind.WEB_VISIT, "hs_analytics_last_url"),
    ("hs_email_last_click_date", ActivityKind.EMAIL_CLICK, "hs_email_last_email_name"),
    ("recent_conversion_date", ActivityKind.FORM_FILL, "recent_conversion_event_name"),
)
PROPERTIES = {
    "companies": ["name", "domain", "industry", "numberofemployees", "annualrevenue", "country"],
    "contacts": [
        "email",
        "firstname",
        "lastname",
        "jobtitle",
        "hs_buying_role",
        "associatedcompanyid",
        "notes_last_contacted",
        "notes_last_updated",
        "hs_last_sales_activity_timestamp",
        *(name for name, _, _ in MARKETING_TOUCHES),
        *(subject for _, _, subject in MARKETING_TOUCHES),
    ],
    "deals": [
        "dealname",
        "dealstage",
        "amount",
        "deal_currency_code",
        "closedate",
        "hs_is_closed",
        "hs_is_closed_won",
    ],
    **{name: ["hs_timestamp", title] for name, (_, title) in ENGAGEMENTS.items()},
}
# "Primary" association type ids: contact → company 1, deal → company 5.
PRIMARY_TYPE_IDS = {1, 5}


def modified_property(object_type: str) -> str:
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


@dataclass
class Page:
    records: list
    last_id: str
    read: int  # records the CRM sent


class HubSpotReader:
    backend = "hubspot"
    object_types = OBJECT_TYPES

    def __init__(self, adapter):
        self.adapter = adapter
        self.transport = adapter.transport
        self.search_limiters = [adapter.search_limiter] if adapter.search_limiter else []
        self._stage_labels: dict[str, str] | None = None

    @property
    def stats(self):
        return self.transport.stats

    def close(self) -> None:
        self.adapter.close()

    # --- requests ---

    def _post(self, path: str, body: dict, *, search: bool = False) -> dict:
        response = self.transport.request(
            "POST",
            path,
            json=body,
            idempotent=True,  # reads
            limiters=self.search_limiters if search else [],
        )
        if response.status_code not in (200, 207):
            raise CrmError(
                f"HubSpot refused {path} ({response.status_code}): {describe(response)}",
                response=answer_body(response),
            )
        return response.json()

    def _search(self, object_type: str, *, since, after_id: str, after: str | None, limit: int):
        filters: list[dict[str, Any]] = []
        if since is not None:
            filters.append(
                {
                    "propertyName": modified_property(object_type),
                    "operator": "GTE",
                    "value": str(int(since.timestamp() * 1000)),
                }
            )
        if after_id:
            filters.append({"propertyName": "hs_object_id", "operator": "GT", "value": after_id})
        body: dict[str, Any] = {
            "filterGroups": [{"filters": filters}] if filters else [],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": PROPERTIES[object_type],
            "limit": limit,
        }
        if after:
            body["after"] = after
        return self._post(f"/crm/v3/objects/{object_type}/search", body, search=True)

    # --- the reader's interface ---

    def count(self, object_type: str, *, since: datetime | None, after_id: str = "") -> int:
        """How many records the pass will read (as the CRM counts them now)."""
        page = self._search(object_type, since=since, after_id=after_id, after=None, limit=1)
        return int(page.get("total") or 0)

    def pages(
        self, object_type: str, *, since: datetime | None, after_id: str = ""
    ) -> Iterator[Page]:
        """Every record modified since `since` with an id above `after_id`, a page at a time,
        in id order."""
        bound, after = after_id, None
        while True:
            page = self._search(
                object_type, since=since, after_id=bound, after=after, limit=SEARCH_PAGE
            )
            results = page.get("results") or []
            if not results:
                return
            yield Page(self.convert(object_type, results), str(results[-1]["id"]), len(results))
            next_after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not next_after:
                return
            if int(next_after) + SEARCH_PAGE > SEARCH_CAP:
                # The next page would pass the search's 10,000 results: start the query again
                # after the last id seen.
                bound, after = str(results[-1]["id"]), None
            else:
                after = str(next_after)

    def read(self, object_type: str, ids: list[str]) -> tuple[list, list[str]]:
        """The objects with these ids, and the ids HubSpot does not have (any more)."""
        found: list = []
        missing: list[str] = []
        for group in chunks(list(dict.fromkeys(ids)), BATCH_READ):
            body = {
                "inputs": [{"id": object_id} for object_id in group],
                "properties": PROPERTIES[object_type],
            }
            answer = self._post(f"/crm/v3/objects/{object_type}/batch/read", body)
            results = answer.get("results") or []
            seen = {str(result["id"]) for result in results}
            for error in answer.get("errors") or []:
                if error.get("category") == "OBJECT_NOT_FOUND":
                    named = (error.get("context") or {}).get("ids") or []
                    missing.extend(str(i) for i in named if str(i) not in seen)
            found.extend(self.convert(object_type, results))
        return found, list(dict.fromkeys(missing))

    # --- converting ---

    def convert(self, object_type: str, results: list[dict]) -> list:
        if object_type == "companies":
            return [self.company(result) for result in results]
        if object_type == "contacts":
            return [self.person(result) for result in results]
        ids = [str(result["id"]) for result in results]
        companies = self.associations(object_type, "companies", ids)
        if object_type == "deals":
            without = [i for i in ids if i not in companies]
            contacts = self.associations(object_type, "contacts", without) if without else {}
            labels = self.stage_labels()
            return [self.deal(result, companies, contacts, labels) for result in results]
        contacts = self.associations(object_type, "contacts", ids)
        return [self.touch(object_type, result, companies, contacts) for result in results]

    @staticmethod
    def company(result: dict) -> r.Company:
        p = result.get("properties") or {}
        return r.Company(
            crm_id=str(result["id"]),
            name=r.text(p.get("name"), 200),
            domain=str(p.get("domain") or "").strip(),
            industry=r.text(p.get("industry"), 100),
            employee_count=r.whole(p.get("numberofemployees")),
            annual_revenue=r.amount(p.get("annualrevenue")),
            country=country_code_or_blank(p.get("country")),
        )

    @staticmethod
    def person(result: dict) -> r.Person:
        p = result.get("properties") or {}
        contact_id = str(result["id"])
        touches = []
        for name, kind, subject in MARKETING_TOUCHES:
            moment = r.moment(p.get(name))
            if moment is None:
                continue
            touches.append(
                r.Touch(
                    # The moment is part of the id: a later pull seeing the same value writes
                    # nothing new, a newer value is a new touch.
                    crm_id=f"hubspot:contact:{contact_id}:{kind}:{int(moment.timestamp() * 1000)}",
                    kind=kind,
                    contact_id=contact_id,
                    occurred_at=moment,
                    subject=r.text(p.get(subject), 200),
                    side=Side.MARKETING,
                )
            )
        return r.Person(
            crm_id=contact_id,
            company_id=str(p.get("associatedcompanyid") or "").split(".")[0],
            email=str(p.get("email") or "").strip(),
            first_name=r.text(p.get("firstname"), 100),
            last_name=r.text(p.get("lastname"), 100),
            title=r.text(p.get("jobtitle"), 200),
            roles=r.hubspot_roles(p.get("hs_buying_role")),
            last_engaged_at=r.latest(
                r.moment(p.get("notes_last_contacted")),
                r.moment(p.get("notes_last_updated")),
                r.moment(p.get("hs_last_sales_activity_timestamp")),
            ),
            touches=touches,
        )

    @staticmethod
    def deal(result: dict, companies: dict, contacts: dict, labels: dict) -> r.Deal:
        p = result.get("properties") or {}
        stage = str(p.get("dealstage") or "")
        if str(p.get("hs_is_closed_won")).lower() == "true" or stage == "closedwon":
            status = OpportunityStatus.WON
        elif str(p.get("hs_is_closed")).lower() == "true" or stage == "closedlost":
            status = OpportunityStatus.LOST
        else:
            status = OpportunityStatus.OPEN
        deal_id = str(result["id"])
        return r.Deal(
            crm_id=deal_id,
            company_id=companies.get(deal_id, ""),
            contact_ids=[contacts[deal_id]] if deal_id in contacts else [],
            name=r.text(p.get("dealname"), 200) or f"HubSpot deal {deal_id}",
            stage=r.text(labels.get(stage, stage), 100),
            amount=r.amount(p.get("amount")),
            currency=r.text(p.get("deal_currency_code"), 3).upper(),
            status=status,
            close_date=r.day(p.get("closedate")),
        )

    @staticmethod
    def touch(object_type: str, result: dict, companies: dict, contacts: dict) -> r.Touch:
        p = result.get("properties") or {}
        kind, title = ENGAGEMENTS[object_type]
        object_id = str(result["id"])
        return r.Touch(
            crm_id=f"hubspot:{object_type}:{object_id}",
            kind=kind,
            company_id=companies.get(object_id, ""),
            contact_id=contacts.get(object_id, ""),
            occurred_at=r.moment(p.get("hs_timestamp"))
            or r.moment(p.get("hs_createdate"))
            or r.moment(result.get("createdAt")),
            subject=r.text(p.get(title), 200),
        )

    def associations(self, from_type: str, to_type: str, ids: list[str]) -> dict[str, str]:
        """{object id: the id of its primary (else lowest-id) associated object}."""
        chosen: dict[str, str] = {}
        for group in chunks(ids, ASSOCIATIONS_BATCH):
            answer = self._post(
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                {"inputs": [{"id": object_id} for object_id in group]},
            )
            for row in answer.get("results") or []:
                targets = row.get("to") or []
                if not targets:
                    continue
                primary = [
                    t
                    for t in targets
                    if any(
                        a.get("typeId") in PRIMARY_TYPE_IDS or a.get("label") == "Primary"
                        for a in t.get("associationTypes") or []
                    )
                ]
                best = min(primary or targets, key=lambda t: int(t["toObjectId"]))
                chosen[str(row["from"]["id"])] = str(best["toObjectId"])
        return chosen

    def stage_labels(self) -> dict[str, str]:
        """Deal stage ids → their labels ("closedwon" → "Closed won"), read once per run."""
        if self._stage_labels is None:
            response = self.transport.request(
                "GET", "/crm/v3/properties/deals/dealstage", idempotent=True
            )
            options = response.json().get("options", []) if response.status_code == 200 else []
            self._stage_labels = {o["value"]: o["label"] for o in options if o.get("value")}
        return self._stage_labels
