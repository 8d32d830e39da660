"""Salesforce: target accounts as Account records, upserted by an external id field.

- OAuth 2.0 client credentials (`SALESFORCE_LOGIN_URL/services/oauth2/token`) give an access
  token and the instance URL; an expired token (401) is renewed once and the request repeated.
- `PATCH /services/data/vNN.N/composite/sobjects/Account/<SALESFORCE_EXTERNAL_ID_FIELD>`
  (sObject Collections upsert) with at most 200 records and `allOrNone: false`: each record
  gets its own result, so one refused record does not hold back the others.
- Fields: the external id (Accord's account key), `Name`, `Website`, `SALESFORCE_TARGET_FIELD`
  (checkbox), `SALESFORCE_TIER_FIELD` ("Tier 1"…"Tier 3", cleared on removal) and `OwnerId`
  (the sales owner's Salesforce user id, else the marketing owner's; left alone when unknown).
- A used-up daily allowance (403 REQUEST_LIMIT_EXCEEDED) defers the work instead of retrying.
"""

from __future__ import annotations

from datetime import timedelta

import httpx
from django.utils import timezone

from crm.adapters.base import (
    Adapter,
    ConfigurationError,
    Deferred,
    PushRecord,
    RecordResult,
    Transport,
    answer_body,
    chunks,
    describe,
)

COLLECTION_LIMIT = 200


class SalesforceAdapter(Adapter):
    name = "salesforce"
    batch_size = COLLECTION_LIMIT
    keeps_digests = True

    def __init__(
        self,
        *,
        login_url: str,
        client_id: str,
        client_secret: str,
        api_version: str,
        external_id_field: str,
        target_field: str,
        tier_field: str,
        transport_options: dict,
        defer_seconds: float = 3600,
        sleep=None,
    ):
        super().__init__(**({"sleep": sleep} if sleep else {}))
        self.login_url = login_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_version = api_version.lstrip("v")
        self.external_id_field = external_id_field
        self.target_field = target_field
        self.tier_field = tier_field
        self.defer_seconds = defer_seconds
        self.transport = Transport(
            base_url=self.login_url,
            defer=self._limit_exceeded,
            sleep=self.sleep,
            **transport_options,
        )
        self.instance_url = ""

    # --- auth ---

    def authenticate(self) -> bool:
        response = self.transport.request(
            "POST",
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            idempotent=True,  # asking for a token twice is harmless
        )
        if response.status_code != 200:
            raise ConfigurationError(
                f"Salesforce refused the client credentials ({response.status_code}): "
                f"{describe(response)}",
                response=answer_body(response),
            )
        body = response.json()
        self.instance_url = body["instance_url"].rstrip("/")
        self.transport.client.headers["Authorization"] = f"Bearer {body['access_token']}"
        return True

    def _limit_exceeded(self, response: httpx.Response) -> Deferred | None:
        if response.status_code != 403:
            return None
        body = answer_body(response)
        codes = (
            {item.get("errorCode") for item in body if isinstance(item, dict)}
            if isinstance(body, list)
            else set()
        )
        if "REQUEST_LIMIT_EXCEEDED" in codes:
            return Deferred(
                f"Salesforce's API request limit is reached ({describe(response)}); trying "
                f"again in {self.defer_seconds / 3600:.1f} h.",
                retry_at=timezone.now() + timedelta(seconds=self.defer_seconds),
                response=body,
            )
        return None

    # --- the interface ---

    def render(self, payload: dict) -> dict:
        fields = {
            self.external_id_field: payload["key"],
            "Name": payload["name"],
            "Website": payload["domain"],
            self.target_field: bool(payload["is_target"]),
            self.tier_field: f"Tier {payload['tier']}" if payload["tier"] else None,
        }
        if payload.get("salesforce_owner_id"):
            fields["OwnerId"] = payload["salesforce_owner_id"]
        return fields

    def push(self, records: list[PushRecord]) -> list[RecordResult]:
        if not self.instance_url:
            self.authenticate()
        results: list[RecordResult] = []
        for batch in chunks(records, COLLECTION_LIMIT):
            results.extend(self._upsert(batch))
        return results

    def _upsert(self, batch: list[PushRecord]) -> list[RecordResult]:
        path = (
            f"{self.instance_url}/services/data/v{self.api_version}/composite/sobjects/"
            f"Account/{self.external_id_field}"
        )
        response = self.transport.request(
            "PATCH",
            path,
            json={
                "allOrNone": False,
                "records": [{"attributes": {"type": "Account"}, **r.properties} for r in batch],
            },
            idempotent=True,  # an upsert by external id: repeating it changes nothing more
            write=True,
            on_unauthorized=self.authenticate,
        )
        if response.status_code != 200:
            body = answer_body(response)
            return [
                RecordResult(
                    key=r.key,
                    ok=False,
                    message=f"Salesforce refused it ({response.status_code}): {describe(response)}",
                    response=body,
                )
                for r in batch
            ]
        answers = response.json()
        results = []
        for record, answer in zip(batch, answers, strict=False):
            if answer.get("success"):
                results.append(
                    RecordResult(
                        key=record.key,
                        ok=True,
                        crm_id=str(answer.get("id") or ""),
                        created=bool(answer.get("created")),
                    )
                )
            else:
                errors = answer.get("errors") or []
                message = "; ".join(
                    f"{e.get('statusCode', 'ERROR')}: {e.get('message', '')}" for e in errors
                )
                results.append(
                    RecordResult(key=record.key, ok=False, message=message, response=answer)
                )
        for record in batch[len(answers) :]:
            results.append(
                RecordResult(
                    key=record.key,
                    ok=False,
                    message="Salesforce's answer did not mention this record.",
                    response=answers,
                )
            )
        return results
