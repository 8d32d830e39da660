"""HubSpot CRM v3: target accounts as companies.

- Companies Accord knows the id of (`Account.hubspot_company_id`) are written with
  `POST /crm/v3/objects/companies/batch/update`; the others with `batch/upsert` keyed on the
  custom unique property `HUBSPOT_ACCOUNT_KEY_PROPERTY` holding Accord's account key, so a
  repeated push (a lost answer, a killed worker) updates the company it created the first time.
- Before creating, accounts without a company id are matched on domain against companies that
  do not carry an Accord key yet (the search API), and such a company is adopted (updated by id,
  key set) instead of a duplicate being created. For a run with many such accounts the adapter
  reads every unkeyed company once, sorted by id (past the 10,000-result cap), when that takes
  fewer requests than one search per batch.
- Properties: `name`, `domain`, `hs_is_target_account`, `hs_ideal_customer_profile`
  (`tier_1`…`tier_3`, cleared on removal), `hubspot_owner_id` (the sales owner's HubSpot owner
  id, else the marketing owner's; left alone when neither is known).
- A batch refused as a whole with 400 (e.g. one unknown owner id: HubSpot validates the whole
  batch first) is split in halves until the faulty records are found; the others are written.
- A company deleted in HubSpot (OBJECT_NOT_FOUND on update) is written again by key.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

import httpx
from django.utils import timezone

from crm.adapters.base import (
    Adapter,
    CrmError,
    Deferred,
    PushRecord,
    RecordResult,
    Transport,
    answer_body,
    chunks,
    describe,
)

BATCH_LIMIT = 100
SEARCH_PAGE = 200
IN_VALUES = 100  # values of one IN filter

COMPANIES = "/crm/v3/objects/companies"


def tier_value(tier: int | None) -> str:
    return f"tier_{tier}" if tier else ""


class HubSpotAdapter(Adapter):
    name = "hubspot"
    batch_size = BATCH_LIMIT
    keeps_digests = True

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        key_property: str,
        transport_options: dict,
        search_limiter=None,
        match_domains: bool = True,
        defer_seconds: float = 3600,
        sleep=None,
    ):
        super().__init__(**({"sleep": sleep} if sleep else {}))
        self.key_property = key_property
        self.match_domains_on = match_domains
        self.defer_seconds = defer_seconds
        self.search_limiter = search_limiter
        self.transport = Transport(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            defer=self._daily_limit,
            sleep=self.sleep,
            **transport_options,
        )
        self._expected_unknown = 0
        self._index: dict[str, str] | None = None  # domain -> unkeyed company id, for the run
        self._index_complete = False

    # --- the interface ---

    def render(self, payload: dict) -> dict:
        properties = {
            self.key_property: payload["key"],
            "name": payload["name"],
            "domain": payload["domain"],
            "hs_is_target_account": "true" if payload["is_target"] else "false",
            "hs_ideal_customer_profile": tier_value(payload["tier"]),
        }
        if payload.get("hubspot_owner_id"):
            properties["hubspot_owner_id"] = payload["hubspot_owner_id"]
        return properties

    def plan(self, *, records_without_crm_id: int) -> None:
        self._expected_unknown = records_without_crm_id

    def push(self, records: list[PushRecord]) -> list[RecordResult]:
        results: dict[str, RecordResult] = {}
        for record, company_id in self.match([r for r in records if not r.crm_id]):
            record.crm_id = company_id  # adopt the company instead of creating a duplicate
        by_id = [r for r in records if r.crm_id]
        by_key = [r for r in records if not r.crm_id]
        missing = self._write(by_id, results, by_id_mode=True)
        for record in missing:
            record.crm_id = ""  # deleted in HubSpot: write it again by key
        self._write(by_key + missing, results, by_id_mode=False)
        return [results[r.key] for r in records]

    # --- limits ---

    def _daily_limit(self, response: httpx.Response) -> Deferred | None:
        if response.status_code != 429:
            return None
        body = answer_body(response)
        if isinstance(body, dict) and body.get("policyName") == "DAILY":
            return Deferred(
                f"HubSpot's daily limit is reached ({body.get('message', 'DAILY')}); "
                f"trying again in {self.defer_seconds / 3600:.1f} h.",
                retry_at=timezone.now() + timedelta(seconds=self.defer_seconds),
                response=body,
            )
        return None

    # --- domain matching ---

    def match(self, records: list[PushRecord]) -> list[tuple[PushRecord, str]]:
        """Pairs (record, id of an unkeyed company with the same domain)."""
        if not records or not self.match_domains_on:
            return []
        if self._index is None and self._expected_unknown > BATCH_LIMIT:
            self._read_unkeyed_companies()
        if not self._index_complete:
            self._search_domains([r.payload["domain"] for r in records])
        pairs = []
        for record in records:
            company_id = (self._index or {}).pop(record.payload["domain"], None)
            if company_id:
                pairs.append((record, company_id))
        return pairs

    def _remember(self, companies: list[dict]) -> None:
        from accounts_app.domains import normalise_domain
        from core.errors import Invalid

        index = self._index if self._index is not None else {}
        for company in companies:
            raw = (company.get("properties") or {}).get("domain")
            if not raw:
                continue
            try:
                domain = normalise_domain(raw)
            except Invalid:
                continue
            # The oldest company with a domain wins (results come sorted by id).
            index.setdefault(domain, str(company["id"]))
        self._index = index

    def _search(self, filters: list[dict], after: str | None = None) -> dict:
        body: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        *filters,
                        {"propertyName": self.key_property, "operator": "NOT_HAS_PROPERTY"},
                    ]
                }
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": ["domain"],
            "limit": SEARCH_PAGE,
        }
        if after:
            body["after"] = after
        response = self.transport.request(
            "POST",
            f"{COMPANIES}/search",
            json=body,
            idempotent=True,
            limiters=[self.search_limiter] if self.search_limiter else [],
        )
        if response.status_code != 200:
            raise CrmError(
                f"HubSpot refused a company search ({response.status_code}): {describe(response)}",
                response=answer_body(response),
            )
        return response.json()

    def _read_unkeyed_companies(self) -> None:
        """Read every company without an Accord key when that is cheaper than searching per
        batch: one page tells how many there are."""
        page = self._search([])
        self._remember(page.get("results", []))
        total = int(page.get("total", 0))
        per_batch_searches = math.ceil(self._expected_unknown / BATCH_LIMIT)
        if total <= len(page.get("results", [])):
            self._index_complete = True
            return
        if math.ceil(total / SEARCH_PAGE) > per_batch_searches:
            return  # cheaper to search each batch's domains
        last_id = page["results"][-1]["id"] if page.get("results") else "0"
        while True:
            # hs_object_id GT <last id seen>: pages past the 10,000-result cap of `after`.
            page = self._search(
                [{"propertyName": "hs_object_id", "operator": "GT", "value": last_id}]
            )
            results = page.get("results", [])
            self._remember(results)
            if not results or len(results) < SEARCH_PAGE:
                break
            last_id = results[-1]["id"]
        self._index_complete = True

    def _search_domains(self, domains: list[str]) -> None:
        values = sorted({v for d in domains for v in (d, f"www.{d}")})
        for group in chunks(values, IN_VALUES):
            after = None
            while True:
                page = self._search(
                    [{"propertyName": "domain", "operator": "IN", "values": group}], after
                )
                self._remember(page.get("results", []))
                after = ((page.get("paging") or {}).get("next") or {}).get("after")
                if not after:
                    break

    # --- writing ---

    def _write(
        self, records: list[PushRecord], results: dict[str, RecordResult], *, by_id_mode: bool
    ) -> list[PushRecord]:
        """Write in batches; returns the records whose company id HubSpot does not know."""
        missing: list[PushRecord] = []
        for batch in chunks(records, BATCH_LIMIT):
            missing.extend(self._write_batch(batch, results, by_id_mode=by_id_mode))
        return missing

    def _inputs(self, batch: list[PushRecord], by_id_mode: bool) -> list[dict]:
        if by_id_mode:
            return [
                {"id": r.crm_id, "properties": r.properties, "objectWriteTraceId": r.key}
                for r in batch
            ]
        return [
            {
                "idProperty": self.key_property,
                "id": r.key,
                "properties": {k: v for k, v in r.properties.items() if k != self.key_property},
                "objectWriteTraceId": r.key,
            }
            for r in batch
        ]

    def _write_batch(
        self, batch: list[PushRecord], results: dict[str, RecordResult], *, by_id_mode: bool
    ) -> list[PushRecord]:
        path = f"{COMPANIES}/batch/{'update' if by_id_mode else 'upsert'}"
        response = self.transport.request(
            "POST",
            path,
            json={"inputs": self._inputs(batch, by_id_mode)},
            idempotent=True,  # updates by id and upserts by key: the same outcome if repeated
            write=True,
        )
        status = response.status_code
        if status in (400, 409) and len(batch) > 1:
            # Refused as a whole (HubSpot validates every input first): find the faulty ones.
            half = len(batch) // 2
            return self._write_batch(
                batch[:half], results, by_id_mode=by_id_mode
            ) + self._write_batch(batch[half:], results, by_id_mode=by_id_mode)
        if status not in (200, 201, 207):
            body = answer_body(response)
            for record in batch:
                results[record.key] = RecordResult(
                    key=record.key,
                    ok=False,
                    message=f"HubSpot refused it ({status}): {describe(response)}",
                    response=body,
                )
            return []
        body = response.json()
        by_key = {r.key: r for r in batch}
        by_company = {r.crm_id: r for r in batch if r.crm_id}
        for result in body.get("results", []):
            properties = result.get("properties") or {}
            record = by_company.get(str(result.get("id"))) if by_id_mode else None
            if record is None:
                record = by_key.get(properties.get(self.key_property) or "")
            if record is None:
                continue
            results[record.key] = RecordResult(
                key=record.key,
                ok=True,
                crm_id=str(result["id"]),
                created=bool(result.get("new", False)),
            )
        missing: list[PushRecord] = []
        for error in body.get("errors", []):
            context = error.get("context") or {}
            named = [*context.get("ids", []), *context.get("objectWriteTraceId", [])]
            records = {
                id(r): r
                for name in named
                for r in (by_key.get(str(name)), by_company.get(str(name)))
                if r is not None
            }
            for record in records.values():
                if record.key in results:
                    continue
                if by_id_mode and error.get("category") == "OBJECT_NOT_FOUND":
                    missing.append(record)
                    continue
                results[record.key] = RecordResult(
                    key=record.key,
                    ok=False,
                    message=str(error.get("message") or error.get("category") or "refused"),
                    response=error,
                )
        for record in batch:
            if record.key not in results and record not in missing:
                results[record.key] = RecordResult(
                    key=record.key,
                    ok=False,
                    message="HubSpot's answer did not mention this record.",
                    response=body,
                )
        return missing

    # --- setup ---

    def ensure_properties(self) -> list[str]:
        """Create the custom company properties Accord writes, if missing. Returns those
        created. Used by `manage.py crm_setup`."""
        created = []
        response = self.transport.request(
            "GET", f"/crm/v3/properties/companies/{self.key_property}", idempotent=True
        )
        if response.status_code == 200:
            if not response.json().get("hasUniqueValue"):
                raise CrmError(
                    f"The company property {self.key_property} exists in HubSpot but does not "
                    "require unique values; Accord upserts by it, so it must. Create another "
                    "property (and set HUBSPOT_ACCOUNT_KEY_PROPERTY) or fix this one."
                )
            return created
        if response.status_code != 404:
            raise CrmError(
                f"Could not read the company property {self.key_property} "
                f"({response.status_code}): {describe(response)}"
            )
        response = self.transport.request(
            "POST",
            "/crm/v3/properties/companies",
            json={
                "name": self.key_property,
                "label": "Accord account key",
                "description": "Accord's key for this company; Accord writes target accounts "
                "by it. Do not edit.",
                "type": "string",
                "fieldType": "text",
                "groupName": "companyinformation",
                "hasUniqueValue": True,
                "formField": False,
            },
            idempotent=True,  # a repeat answers 409, which we accept
            write=True,
        )
        if response.status_code not in (201, 409):
            raise CrmError(
                f"HubSpot refused to create the property {self.key_property} "
                f"({response.status_code}): {describe(response)}"
            )
        if response.status_code == 201:
            created.append(self.key_property)
        return created
