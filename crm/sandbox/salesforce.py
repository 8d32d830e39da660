"""A Salesforce-compatible server: OAuth client credentials, sObject rows and collections upsert by
external id, and SOQL queries with `nextRecordsUrl` paging (REST API, Developer Guide).

Errors are Salesforce's: a JSON list of `{"message", "errorCode"[, "fields"]}` for whole-request
failures, `{"statusCode", "message", "fields"}` inside per-record results.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from . import soql
from .core import (
    DailyQuota,
    Request,
    Response,
    Route,
    SandboxApp,
    seed_summary,
    utcnow,
)

COLLECTION_LIMIT = 200  # "The list can contain up to 200 objects" (sObject Collections)
QUERY_BATCH = 2000  # "up to 2,000 records can be returned at a time" (Query)
QUERY_BATCH_MIN = 200  # Sforce-Query-Options batchSize: 200..2,000
COLLECTIONS_SINCE = 46.0  # "This request is available in API version 46 and later"
CURSORS_KEPT = 500

PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "Task": "00T",
    "Event": "00U",
    "AccountContactRole": "02Z",
    "OpportunityContactRole": "00K",
    "Campaign": "701",
    "CampaignMember": "00v",
}
COMMON_FIELDS = {
    "Id": "id",
    "IsDeleted": "boolean",
    "CreatedDate": "datetime",
    "CreatedById": "reference",
    "LastModifiedDate": "datetime",
    "LastModifiedById": "reference",
    "SystemModstamp": "datetime",
}
FIELDS: dict[str, dict[str, str]] = {
    "Account": {
        "Name": "string",
        "Website": "url",
        "Industry": "picklist",
        "Type": "picklist",
        "OwnerId": "reference",
        "ParentId": "reference",
        "BillingCountry": "string",
        "BillingCity": "string",
        "NumberOfEmployees": "int",
        "AnnualRevenue": "currency",
        "Description": "textarea",
    },
    "Contact": {
        "AccountId": "reference",
        "FirstName": "string",
        "LastName": "string",
        "Name": "string",
        "Email": "email",
        "Title": "string",
        "Phone": "phone",
        "OwnerId": "reference",
        "LastActivityDate": "date",
    },
    "Opportunity": {
        "AccountId": "reference",
        "Name": "string",
        "StageName": "picklist",
        "Amount": "currency",
        "CurrencyIsoCode": "picklist",
        "CloseDate": "date",
        "IsClosed": "boolean",
        "IsWon": "boolean",
        "Probability": "percent",
        "OwnerId": "reference",
    },
    "Task": {
        "WhoId": "reference",
        "WhatId": "reference",
        "AccountId": "reference",
        "Subject": "string",
        "Type": "picklist",
        "TaskSubtype": "picklist",
        "Status": "picklist",
        "ActivityDate": "date",
        "CompletedDateTime": "datetime",
        "OwnerId": "reference",
    },
    "Event": {
        "WhoId": "reference",
        "WhatId": "reference",
        "AccountId": "reference",
        "Subject": "string",
        "Type": "picklist",
        "EventSubtype": "picklist",
        "ActivityDate": "date",
        "ActivityDateTime": "datetime",
        "StartDateTime": "datetime",
        "EndDateTime": "datetime",
        "DurationInMinutes": "int",
        "OwnerId": "reference",
    },
    "AccountContactRole": {
        "AccountId": "reference",
        "ContactId": "reference",
        "Role": "picklist",
        "IsPrimary": "boolean",
    },
    "OpportunityContactRole": {
        "OpportunityId": "reference",
        "ContactId": "reference",
        "Role": "picklist",
        "IsPrimary": "boolean",
    },
    "Campaign": {
        "Name": "string",
        "Type": "picklist",
        "Status": "picklist",
        "IsActive": "boolean",
        "StartDate": "date",
        "EndDate": "date",
        "OwnerId": "reference",
    },
    "CampaignMember": {
        "CampaignId": "reference",
        "ContactId": "reference",
        "LeadId": "reference",
        "Status": "picklist",
        "HasResponded": "boolean",
        "FirstRespondedDate": "date",
    },
}
# Relationship names usable in SELECT as `<Relationship>.<Field>` (e.g. `Campaign.Name`):
# {sObject: {relationship: (its reference field, the sObject it points to)}}. The answer nests
# the related record (`"Campaign": {"attributes": {...}, "Name": ...}`, or null), like
# Salesforce's.
RELATIONSHIPS = {
    "Contact": {"Account": ("AccountId", "Account")},
    "Opportunity": {"Account": ("AccountId", "Account")},
    "CampaignMember": {
        "Campaign": ("CampaignId", "Campaign"),
        "Contact": ("ContactId", "Contact"),
    },
}
# The member statuses that count as a response (each campaign's statuses have a "Responded"
# flag; these are the sandbox org's). HasResponded follows the status; FirstRespondedDate is
# the day it first did.
RESPONDED_STATUSES = {"Responded", "Registered", "Attended", "Clicked"}
# Filled in by Salesforce: writing them is INVALID_FIELD_FOR_INSERT_UPDATE.
READ_ONLY = {
    "Id",
    "IsDeleted",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "IsClosed",
    "IsWon",
}
READ_ONLY_BY_OBJECT = {
    "Contact": {"Name"},
    "Task": {"AccountId"},
    "Event": {"AccountId"},
    "CampaignMember": {"HasResponded", "FirstRespondedDate"},
}
REQUIRED = {
    "Account": ["Name"],
    "Contact": ["LastName"],
    "Opportunity": ["Name", "StageName", "CloseDate"],
    "AccountContactRole": ["AccountId", "ContactId"],
    "OpportunityContactRole": ["OpportunityId", "ContactId"],
    "Campaign": ["Name"],
    "CampaignMember": ["CampaignId"],
}
CONTACT_ROLES = [
    "Business User",
    "Decision Maker",
    "Economic Buyer",
    "Economic Decision Maker",
    "Evaluator",
    "Executive Sponsor",
    "Influencer",
    "Technical Buyer",
    "Other",
]
STAGES = [
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Proposal/Price Quote",
    "Negotiation/Review",
    "Closed Won",
    "Closed Lost",
]
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def sf_datetime(moment: datetime) -> str:
    """Salesforce's datetime format: `2024-01-31T12:00:00.000+0000`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "+0000"


def parse_sf_datetime(value: Any) -> datetime | None:
    if not value:
        return None
    if isinstance(value, datetime):
        return value
    try:
        return soql.parse_datetime(str(value))
    except ValueError:
        return None


def salesforce_id(prefix: str, number: int) -> str:
    """An 18-character id: 15 case-sensitive characters and the 3-character case checksum."""
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = BASE62[rest] + digits
        if number == 0:
            break
    base = prefix + "Sb" + digits.rjust(10, "0")
    suffix = ""
    for start in (0, 5, 10):
        chunk = base[start : start + 5]
        bits = sum(1 << i for i, ch in enumerate(chunk) if "A" <= ch <= "Z")
        suffix += "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"[bits]
    return base + suffix


def errors_body(code: str, message: str, fields: list[str] | None = None) -> list[dict]:
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return [error]


def save_error(code: str, message: str, fields: list[str] | None = None) -> dict:
    return {"statusCode": code, "message": message, "fields": fields or []}


class SalesforceError(Exception):
    def __init__(self, status: int, code: str, message: str, fields: list[str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields

    def response(self) -> Response:
        return Response(self.status, errors_body(self.code, self.message, self.fields))


@dataclass
class SalesforceConfig:
    client_id: str = "accord-sandbox"
    client_secret: str = "sandbox-secret"
    token: str | None = None  # an extra bearer token accepted without OAuth (tests, demo)
    daily_limit: int = 100_000  # "DailyApiRequests"
    api_version: str = "62.0"
    org_id: str = "00DSb0000000001EAA"
    # SObject -> external id fields (custom fields marked "External ID").
    external_id_fields: dict[str, list[str]] = field(
        default_factory=lambda: {"Account": ["Accord_Account_Key__c"]}
    )
    verbose: bool = False


@dataclass
class Cursor:
    sobject: str
    ids: list[str]
    fields: list[str]
    version: str


class SalesforceSandbox(SandboxApp):
    kind = "salesforce"
    label_keep = {"version", "sobject", "field"}

    def __init__(self, config: SalesforceConfig | None = None):
        super().__init__()
        self.config = config or SalesforceConfig()
        self.tokens: set[str] = set()
        self._cursor_lock = threading.Lock()
        self.configure_limits()
        self.reset_store()
        self._routes()

    def configure_limits(self) -> None:
        self.daily = DailyQuota(self.config.daily_limit)

    def reset_store(self) -> None:
        self.records: dict[str, dict[str, dict]] = {name: {} for name in PREFIXES}
        self.custom_fields: dict[str, dict[str, str]] = {name: {} for name in PREFIXES}
        for sobject, names in self.config.external_id_fields.items():
            for name in names:
                self.custom_fields[sobject][name] = "string"
        self._field_types: dict[str, dict[str, str]] = {}
        self._field_names: dict[str, dict[str, str]] = {}
        self.cursors: OrderedDict[str, Cursor] = OrderedDict()
        self.page_sizes: dict[str, int] = {}
        self.next_number = 1

    def _routes(self) -> None:
        add = self.router.add
        add("POST", "/services/oauth2/token", self.token_endpoint)
        add("GET", "/services/data", self.versions)
        data = "/services/data/:version"
        add("GET", data + "/limits", self.limits)
        add("GET", data + "/query", self.query)
        add("GET", data + "/query/:locator", self.query_more)
        add(
            "PATCH",
            data + "/composite/sobjects/:sobject/:field",
            self.collections_upsert,
            write=True,
        )
        add("POST", data + "/sobjects/:sobject", self.create_record, write=True)
        add("GET", data + "/sobjects/:sobject/:id", self.get_record)
        add("PATCH", data + "/sobjects/:sobject/:id", self.update_record, write=True)
        add("PATCH", data + "/sobjects/:sobject/:field/:value", self.upsert_record, write=True)

        hook = self.hooks.add
        hook("POST", "/__sandbox__/seed", self.hook_seed)
        hook("GET", "/__sandbox__/objects/:sobject", self.hook_dump)
        hook("GET", "/__sandbox__/limits", self.hook_limits_get)
        hook("POST", "/__sandbox__/limits", self.hook_limits_set)

    # --- base class answers ---

    def fault_429(self) -> Response:
        # Salesforce's REST API signals limits with 403 REQUEST_LIMIT_EXCEEDED; this synthetic
        # 429 exists for fault tests of the generic backoff path.
        response = Response(
            429, errors_body("REQUEST_LIMIT_EXCEEDED", "Too many requests. Try again later.")
        )
        if self.faults.plan.retry_after is not None:
            retry_after = self.faults.plan.retry_after
            response.headers["Retry-After"] = (
                str(int(retry_after)) if float(retry_after).is_integer() else str(retry_after)
            )
        return response

    def fault_503(self) -> Response:
        return Response(503, errors_body("SERVER_UNAVAILABLE", "Server is unavailable."))

    def not_found(self, request: Request) -> Response:
        return Response(404, errors_body("NOT_FOUND", "The requested resource does not exist"))

    def bad_json(self, message: str) -> Response:
        return Response(400, errors_body("JSON_PARSER_ERROR", message))

    # --- auth and limits ---

    def api_response(self, route: Route, request: Request) -> Response:
        if route.handler == self.token_endpoint:
            with self.lock:
                return self.token_endpoint(request)
        token = request.bearer_token()
        if not token or (token not in self.tokens and token != self.config.token):
            # 401 INVALID_SESSION_ID "Session expired or invalid" for a bad bearer token.
            return Response(401, errors_body("INVALID_SESSION_ID", "Session expired or invalid"))
        version = request.params.get("version")
        if version is not None and not self.version_ok(version, route):
            return self.not_found(request)
        accepted, _ = self.daily.acquire()
        if not accepted:
            # Over the org's daily API request allowance Salesforce answers 403
            # REQUEST_LIMIT_EXCEEDED "TotalRequests Limit exceeded."
            self.counters.limited("DAILY")
            response = Response(
                403, errors_body("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            )
        else:
            try:
                with self.lock:
                    response = route.handler(request)
            except SalesforceError as error:
                response = error.response()
            except soql.SoqlError as error:
                response = Response(400, errors_body(error.code, error.message))
        # "Sforce-Limit-Info: api-usage=18/5000" on every REST API answer.
        response.headers["Sforce-Limit-Info"] = f"api-usage={self.daily.used}/{self.daily.limit}"
        return response

    def version_ok(self, version: str, route: Route) -> bool:
        match = re.fullmatch(r"v(\d+)\.(\d)", version)
        if not match:
            return False
        number = float(f"{match.group(1)}.{match.group(2)}")
        if route.handler == self.collections_upsert:
            return number >= COLLECTIONS_SINCE
        return number >= 20.0

    @staticmethod
    def version_number(version: str) -> float:
        return float(version.lstrip("v"))

    # --- OAuth ---

    def token_endpoint(self, request: Request) -> Response:
        """OAuth 2.0 client credentials flow: form-encoded grant_type, client_id, client_secret."""
        form = {k: v[0] for k, v in parse_qs(request.body.decode(errors="replace")).items()}
        form.update({k: v[0] for k, v in request.query.items() if k not in form})
        grant = form.get("grant_type")
        if grant != "client_credentials":
            return Response(
                400,
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
            )
        if form.get("client_id") != self.config.client_id:
            return Response(
                400,
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
            )
        if form.get("client_secret") != self.config.client_secret:
            # A wrong secret: 400 invalid_client "invalid client credentials".
            return Response(
                400, {"error": "invalid_client", "error_description": "invalid client credentials"}
            )
        token = f"{self.config.org_id}!{secrets.token_urlsafe(32)}"
        self.tokens.add(token)
        issued = str(int(utcnow().timestamp() * 1000))
        return Response(
            200,
            {
                "access_token": token,
                "signature": secrets.token_urlsafe(24),
                "scope": "api",
                "instance_url": self.base_url,
                "id": f"{self.base_url}/id/{self.config.org_id}/005Sb00000000001AAA",
                "token_type": "Bearer",
                "issued_at": issued,
            },
        )

    def versions(self, request: Request) -> Response:
        version = self.config.api_version
        return Response(
            200, [{"label": "Sandbox", "url": f"/services/data/v{version}", "version": version}]
        )

    def limits(self, request: Request) -> Response:
        return Response(
            200,
            {"DailyApiRequests": {"Max": self.daily.limit, "Remaining": self.daily.remaining()}},
        )

    # --- schema ---

    def sobject(self, name: str) -> str:
        for known in PREFIXES:
            if known.lower() == name.lower():
                return known
        raise SalesforceError(404, "NOT_FOUND", "The requested resource does not exist")

    def field_types(self, sobject: str) -> dict[str, str]:
        cached = self._field_types.get(sobject)
        if cached is None:
            cached = COMMON_FIELDS | FIELDS[sobject] | self.custom_fields[sobject]
            self._field_types[sobject] = cached
            self._field_names[sobject] = {name.lower(): name for name in cached}
        return cached

    def declare_custom_field(self, sobject: str, name: str, kind: str) -> None:
        self.custom_fields[sobject][name] = kind
        self._field_types.pop(sobject, None)

    def canonical_field(self, sobject: str, name: str) -> str | None:
        self.field_types(sobject)
        return self._field_names[sobject].get(name.lower())

    def external_field(self, sobject: str, name: str) -> str | None:
        for known in self.config.external_id_fields.get(sobject, []):
            if known.lower() == name.lower():
                return known
        return None

    def new_id(self, sobject: str) -> str:
        value = salesforce_id(PREFIXES[sobject], self.next_number)
        self.next_number += 1
        return value

    # --- validating and writing records ---

    def clean_fields(
        self, sobject: str, raw: dict, *, allow_read_only: bool = False
    ) -> tuple[dict[str, Any], list[dict]]:
        clean: dict[str, Any] = {}
        errors: list[dict] = []
        for name, value in raw.items():
            if name == "attributes":
                continue
            canonical = self.canonical_field(sobject, name)
            if canonical is None and name.endswith("__c"):
                # Custom fields exist in an org customised for Accord: declare them on first use.
                canonical = name
                self.declare_custom_field(sobject, name, _infer_type(value))
            if canonical is None:
                errors.append(
                    save_error(
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {sobject}",
                        [name],
                    )
                )
                continue
            if not allow_read_only and (
                canonical in READ_ONLY or canonical in READ_ONLY_BY_OBJECT.get(sobject, set())
            ):
                errors.append(
                    save_error(
                        "INVALID_FIELD_FOR_INSERT_UPDATE",
                        f"Unable to create/update fields: {canonical}. Please check the security "
                        "settings of this field and verify that it is read/write for your profile "
                        "or permission set.",
                        [canonical],
                    )
                )
                continue
            converted, error = self.convert(sobject, canonical, value)
            if error:
                errors.append(error)
            else:
                clean[canonical] = converted
        return clean, errors

    def convert(self, sobject: str, name: str, value: Any) -> tuple[Any, dict | None]:
        kind = self.field_types(sobject)[name]
        if value is None:
            return None, None

        def wrong() -> tuple[None, dict]:
            return None, save_error(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{name}: value not of required type: {value}",
                [name],
            )

        if kind == "boolean":
            if isinstance(value, bool):
                return value, None
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true", None
            return wrong()
        if kind in ("int", "currency", "percent", "double"):
            try:
                number = float(value)
            except (TypeError, ValueError):
                return wrong()
            return (int(number) if kind == "int" else number), None
        if kind == "datetime":
            moment = parse_sf_datetime(value)
            return (sf_datetime(moment), None) if moment else wrong()
        if kind == "date":
            try:
                return date.fromisoformat(str(value)[:10]).isoformat(), None
            except ValueError:
                return wrong()
        return str(value), None

    def missing_required(self, sobject: str, record: dict) -> list[dict]:
        missing = [name for name in REQUIRED.get(sobject, []) if record.get(name) in (None, "")]
        if not missing:
            return []
        return [
            save_error(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        ]

    def matches_for(self, sobject: str, field_name: str, value: str) -> list[str]:
        # External ids match case-insensitively, as Salesforce's (non case-sensitive) ones do.
        lower = value.lower()
        return [
            record_id
            for record_id, record in self.records[sobject].items()
            if record.get(field_name) is not None and str(record[field_name]).lower() == lower
        ]

    def apply(
        self, sobject: str, record_id: str | None, clean: dict, now: datetime | None = None
    ) -> tuple[str, bool]:
        now = now or utcnow()
        created = record_id is None
        if created:
            record_id = self.new_id(sobject)
            record = {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": sf_datetime(now),
                "CreatedById": "005Sb00000000001AAA",
            }
            self.records[sobject][record_id] = record
        record = self.records[sobject][record_id]
        record.update(clean)
        if sobject == "Contact":
            record["Name"] = " ".join(
                part for part in (record.get("FirstName"), record.get("LastName")) if part
            )
        if sobject == "Opportunity":
            stage = record.get("StageName") or ""
            record["IsClosed"] = stage in ("Closed Won", "Closed Lost")
            record["IsWon"] = stage == "Closed Won"
        if sobject in ("Task", "Event"):
            # An activity's AccountId is derived: the account it is about (WhatId), else the
            # account of the opportunity it is about, else the account of its contact (WhoId).
            what, who = str(record.get("WhatId") or ""), str(record.get("WhoId") or "")
            account = None
            if what.startswith("001"):
                account = what
            elif what in self.records["Opportunity"]:
                account = self.records["Opportunity"][what].get("AccountId")
            elif who in self.records["Contact"]:
                account = self.records["Contact"][who].get("AccountId")
            record["AccountId"] = account
        if sobject == "CampaignMember" and "Status" in clean:
            record["HasResponded"] = record.get("Status") in RESPONDED_STATUSES
            if record["HasResponded"] and not record.get("FirstRespondedDate"):
                record["FirstRespondedDate"] = now.date().isoformat()
        # Every write moves LastModifiedDate and SystemModstamp (what incremental SOQL reads).
        record["LastModifiedDate"] = sf_datetime(now)
        record["SystemModstamp"] = sf_datetime(now)
        record["LastModifiedById"] = "005Sb00000000001AAA"
        return record_id, created

    # --- sObject rows ---

    def body(self, request: Request) -> Any:
        return request.json()

    def create_record(self, request: Request) -> Response:
        sobject = self.sobject(request.params["sobject"])
        data = self.body(request)
        if not isinstance(data, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        clean, errors = self.clean_fields(sobject, data)
        errors = errors or self.missing_required(sobject, clean)
        if errors:
            return Response(400, [_as_request_error(e) for e in errors])
        record_id, _ = self.apply(sobject, None, clean)
        self.counters.records(created=1)
        return Response(201, {"id": record_id, "success": True, "errors": []})

    def get_record(self, request: Request) -> Response:
        sobject = self.sobject(request.params["sobject"])
        record = self.records[sobject].get(request.params["id"])
        if record is None:
            return self.not_found(request)
        fields = request.args("fields") or list(self.field_types(sobject))
        return Response(200, self.project(sobject, record, fields, request.params["version"]))

    def update_record(self, request: Request) -> Response:
        """PATCH /sobjects/{SObject}/{id}: 204 with no body; 404 for an id it does not have."""
        sobject = self.sobject(request.params["sobject"])
        record_id = request.params["id"]
        if record_id not in self.records[sobject]:
            return self.not_found(request)
        data = self.body(request) or {}
        if not isinstance(data, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        clean, errors = self.clean_fields(sobject, data)
        if errors:
            return Response(400, [_as_request_error(e) for e in errors])
        self.apply(sobject, record_id, clean)
        self.counters.records(updated=1)
        return Response(204, None)

    def upsert_record(self, request: Request) -> Response:
        """PATCH /sobjects/{SObject}/{ExternalIdField}/{value}: 201 created, 200 (v46+) or 204
        (before v46) updated, 300 when the value matches several records, 404 for a field that
        is not an external id ("The requested resource does not exist")."""
        sobject = self.sobject(request.params["sobject"])
        field_name = self.external_field(sobject, request.params["field"])
        if field_name is None:
            return self.not_found(request)
        value = request.params["value"]
        data = self.body(request) or {}
        if not isinstance(data, dict):
            raise SalesforceError(400, "JSON_PARSER_ERROR", "Expected a JSON object")
        data = {k: v for k, v in data.items() if k.lower() != field_name.lower()}
        clean, errors = self.clean_fields(sobject, data)
        if errors:
            return Response(400, [_as_request_error(e) for e in errors])
        if self.faults.record_fails(value, *clean.values()):
            self.counters.fault("record_error")
            return Response(
                400,
                errors_body(
                    "FIELD_CUSTOM_VALIDATION_EXCEPTION", self.faults.plan.record_error_message, []
                ),
            )
        matches = self.matches_for(sobject, field_name, value)
        version = request.params["version"]
        if len(matches) > 1:
            return Response(
                300, [f"/services/data/{version}/sobjects/{sobject}/{m}" for m in matches]
            )
        if not matches and request.arg("updateOnly", "false").lower() == "true":
            return self.not_found(request)
        if not matches:
            clean[field_name] = value
            errors = self.missing_required(sobject, clean)
            if errors:
                return Response(400, [_as_request_error(e) for e in errors])
        record_id, created = self.apply(sobject, matches[0] if matches else None, clean)
        self.counters.records(created=int(created), updated=int(not created))
        body: dict[str, Any] = {"id": record_id, "success": True, "errors": []}
        with_created = self.version_number(version) >= COLLECTIONS_SINCE
        if with_created:
            body["created"] = created
        if created:
            return Response(
                201,
                body,
                headers={"Location": f"/services/data/{version}/sobjects/{sobject}/{record_id}"},
            )
        return Response(200, body) if with_created else Response(204)

    # --- sObject Collections upsert ---

    def collections_upsert(self, request: Request) -> Response:
        sobject = self.sobject(request.params["sobject"])
        field_name = self.external_field(sobject, request.params["field"])
        if field_name is None:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"Field name provided, {request.params['field']} is not an External ID or "
                f"indexed field for {sobject}",
            )
        data = self.body(request)
        if not isinstance(data, dict) or not isinstance(data.get("records"), list):
            raise SalesforceError(400, "JSON_PARSER_ERROR", 'Expected {"records": [...]}')
        records = data["records"]
        if len(records) > COLLECTION_LIMIT:
            raise SalesforceError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records "
                "into this call",
            )
        all_or_none = bool(data.get("allOrNone", False))
        for record in records:
            attributes = record.get("attributes") if isinstance(record, dict) else None
            if not isinstance(attributes, dict) or not attributes.get("type"):
                # Each record needs an attributes map with its type.
                raise SalesforceError(400, "INVALID_TYPE", "Must send a concrete entity type.")
            if attributes["type"].lower() != sobject.lower():
                raise SalesforceError(
                    400,
                    "INVALID_TYPE",
                    f"The type of every record must be {sobject}, got {attributes['type']}",
                )

        values = [
            str(r[k]) if (k := self.record_key(r, field_name)) and r[k] is not None else None
            for r in records
        ]
        counts: dict[str, int] = {}
        for value in values:
            if value is not None:
                counts[value.lower()] = counts.get(value.lower(), 0) + 1

        # Plan every record first: allOrNone needs to know about all errors before writing.
        plans: list[tuple[str | None, dict] | None] = []
        results: list[dict | None] = []
        for record, value in zip(records, values, strict=True):
            fields = {k: v for k, v in record.items() if k.lower() != field_name.lower()}
            clean, errors = self.clean_fields(sobject, fields)
            if value is None:
                errors.append(
                    save_error("MISSING_ARGUMENT", f"{field_name} not specified", [field_name])
                )
            elif counts[value.lower()] > 1:
                # The same external id twice in one request fails each of those records.
                errors.append(
                    save_error(
                        "DUPLICATE_VALUE", f"Duplicate external id specified: {value}", [field_name]
                    )
                )
            if not errors and self.faults.record_fails(value, *clean.values()):
                self.counters.fault("record_error")
                errors.append(
                    save_error(
                        "FIELD_CUSTOM_VALIDATION_EXCEPTION", self.faults.plan.record_error_message
                    )
                )
            matches = [] if errors else self.matches_for(sobject, field_name, value)
            if len(matches) > 1:
                errors.append(
                    save_error(
                        "DUPLICATE_EXTERNAL_ID",
                        f"{field_name}: more than one record found for external id field: "
                        f"[{', '.join(matches)}]",
                        [field_name],
                    )
                )
            if not errors and not matches:
                clean[field_name] = value
                errors = self.missing_required(sobject, clean)
            if errors:
                plans.append(None)
                results.append({"success": False, "errors": errors})
            else:
                plans.append((matches[0] if matches else None, clean))
                results.append(None)

        failed = any(plan is None for plan in plans)
        if all_or_none and failed:
            # allOrNone: one failure rolls back the whole request; the others report it.
            rolled_back = save_error(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was "
                "using AllOrNone header",
            )
            return Response(
                200,
                [
                    result if result is not None else {"success": False, "errors": [rolled_back]}
                    for result in results
                ],
            )
        created_count = updated_count = 0
        answer = []
        for plan, result in zip(plans, results, strict=True):
            if plan is None:
                answer.append(result)
                continue
            record_id, created = self.apply(sobject, plan[0], plan[1])
            created_count += created
            updated_count += not created
            answer.append({"id": record_id, "success": True, "errors": [], "created": created})
        self.counters.records(created=created_count, updated=updated_count)
        return Response(200, answer)

    @staticmethod
    def record_key(record: dict, field_name: str) -> str | None:
        for key in record:
            if key.lower() == field_name.lower():
                return key
        return None

    # --- SOQL ---

    def query(self, request: Request) -> Response:
        text = request.arg("q")
        if not text:
            raise SalesforceError(400, "MALFORMED_QUERY", "A query string is required: ?q=")
        parsed = soql.parse(text)
        try:
            sobject = self.sobject(parsed.sobject)
        except SalesforceError:
            raise SalesforceError(
                400, "INVALID_TYPE", f"sObject type '{parsed.sobject}' is not supported."
            ) from None
        fields = [self.select_field(sobject, name) for name in parsed.fields]
        conditions = [
            (self.query_field(sobject, c.field), c.op, self.query_value(sobject, c))
            for c in parsed.where
        ]
        rows = [
            record
            for record in self.records[sobject].values()
            if all(self.holds(sobject, record, *condition) for condition in conditions)
        ]
        for name, descending, nulls_last in reversed(parsed.order_by):
            canonical = self.query_field(sobject, name)
            present = [r for r in rows if r.get(canonical) is not None]
            absent = [r for r in rows if r.get(canonical) is None]
            present.sort(
                key=lambda r, f=canonical: self.sort_key(sobject, f, r[f]), reverse=descending
            )
            rows = present + absent if nulls_last else absent + present
        rows = rows[parsed.offset :]
        if parsed.limit is not None:
            rows = rows[: parsed.limit]
        cursor = Cursor(sobject, [r["Id"] for r in rows], fields, request.params["version"])
        return self.page(cursor, 0, self.batch_size(request))

    def batch_size(self, request: Request) -> int:
        # "Sforce-Query-Options: batchSize=N" (200..2,000; default 2,000).
        options = request.headers.get("sforce-query-options", "")
        found = re.search(r"batchSize\s*=\s*(\d+)", options)
        if not found:
            return QUERY_BATCH
        return min(QUERY_BATCH, max(QUERY_BATCH_MIN, int(found.group(1))))

    def page(self, cursor: Cursor, offset: int, size: int) -> Response:
        ids = cursor.ids[offset : offset + size]
        records = [
            self.project(
                cursor.sobject, self.records[cursor.sobject][i], cursor.fields, cursor.version
            )
            for i in ids
            if i in self.records[cursor.sobject]
        ]
        body: dict[str, Any] = {"totalSize": len(cursor.ids), "done": True, "records": records}
        end = offset + len(ids)
        if end < len(cursor.ids):
            locator = self.remember(cursor)
            body["done"] = False
            body["nextRecordsUrl"] = f"/services/data/{cursor.version}/query/{locator}-{end}"
            self.page_sizes[locator] = size
        return Response(200, body)

    def remember(self, cursor: Cursor) -> str:
        with self._cursor_lock:
            for locator, known in self.cursors.items():
                if known is cursor:
                    return locator
            locator = "01g" + secrets.token_hex(8)[:15]
            self.cursors[locator] = cursor
            while len(self.cursors) > CURSORS_KEPT:
                self.cursors.popitem(last=False)
            return locator

    def query_more(self, request: Request) -> Response:
        locator, _, offset = request.params["locator"].rpartition("-")
        cursor = self.cursors.get(locator)
        if cursor is None or not offset.isdigit():
            raise SalesforceError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self.page(cursor, int(offset), self.page_sizes.get(locator, QUERY_BATCH))

    def query_field(self, sobject: str, name: str) -> str:
        canonical = self.canonical_field(sobject, name)
        if canonical is None:
            raise SalesforceError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{sobject}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name.",
            )
        return canonical

    def select_field(self, sobject: str, name: str) -> str:
        """A field of the sObject, or `<Relationship>.<field>` of a record it points to."""
        relationship, dot, related_field = name.partition(".")
        if not dot:
            return self.query_field(sobject, name)
        for known, (_, target) in RELATIONSHIPS.get(sobject, {}).items():
            if known.lower() == relationship.lower():
                return f"{known}.{self.query_field(target, related_field)}"
        raise SalesforceError(
            400,
            "INVALID_FIELD",
            f"Didn't understand relationship '{relationship}' in field path. If you are "
            "attempting to use a custom relationship, be sure to append the '__r' after the "
            "custom relationship name.",
        )

    def query_value(self, sobject: str, condition: soql.Condition) -> Any:
        name = self.query_field(sobject, condition.field)
        kind = self.field_types(sobject)[name]
        values = condition.value if isinstance(condition.value, list) else [condition.value]
        for value in values:
            if value is None or condition.op == "LIKE":
                continue
            if kind == "datetime":
                ok = isinstance(value, soql.DateTimeLiteral | soql.RelativeDate)
                expected = "dateTime and should not be enclosed in quotes"
            elif kind == "date":
                ok = isinstance(value, soql.DateLiteral | soql.RelativeDate)
                expected = "date and should not be enclosed in quotes"
            elif kind == "boolean":
                ok = isinstance(value, bool)
                expected = "boolean and should not be enclosed in quotes"
            elif kind in ("int", "currency", "percent", "double"):
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                expected = "double and should not be enclosed in quotes"
            else:
                ok = isinstance(value, str)
                expected = "string and should be enclosed in quotes"
            if not ok:
                raise SalesforceError(
                    400,
                    "INVALID_FIELD",
                    f"value of filter criterion for field '{name}' must be of type {expected}",
                )
        return condition.value

    def sort_key(self, sobject: str, name: str, value: Any) -> Any:
        kind = self.field_types(sobject)[name]
        if kind == "datetime":
            return parse_sf_datetime(value)
        if isinstance(value, str):
            return value.lower()
        return value

    def holds(self, sobject: str, record: dict, name: str, op: str, value: Any) -> bool:
        stored = record.get(name)
        kind = self.field_types(sobject)[name]
        if op in ("IN", "NOT_IN"):
            inside = any(self.compare(kind, stored, "=", v) for v in value)
            return inside if op == "IN" else not inside
        if op == "LIKE":
            if stored is None:
                return False
            pattern = "".join(
                ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in value
            )
            return re.fullmatch(pattern, str(stored), re.IGNORECASE | re.DOTALL) is not None
        return self.compare(kind, stored, op, value)

    def compare(self, kind: str, stored: Any, op: str, value: Any) -> bool:
        if value is None:
            return (stored is None) if op == "=" else (stored is not None) if op == "!=" else False
        if stored is None:
            return op == "!="
        if isinstance(value, soql.RelativeDate):
            day = (
                parse_sf_datetime(stored).date()
                if kind == "datetime"
                else date.fromisoformat(str(stored))
            )
            low, high = value.start, value.end
            return {
                "=": low <= day <= high,
                "!=": not (low <= day <= high),
                "<": day < low,
                "<=": day <= high,
                ">": day > high,
                ">=": day >= low,
            }[op]
        if isinstance(value, soql.DateTimeLiteral):
            left, right = parse_sf_datetime(stored), value.value
        elif isinstance(value, soql.DateLiteral):
            left, right = date.fromisoformat(str(stored)[:10]), value.value
        elif isinstance(value, str):
            left, right = str(stored).lower(), value.lower()  # text compares case-insensitively
        else:
            left, right = stored, value
        try:
            return {
                "=": left == right,
                "!=": left != right,
                "<": left < right,
                "<=": left <= right,
                ">": left > right,
                ">=": left >= right,
            }[op]
        except TypeError:
            return False

    def project(self, sobject: str, record: dict, fields: list[str], version: str) -> dict:
        row: dict[str, Any] = {
            "attributes": {
                "type": sobject,
                "url": f"/services/data/{version}/sobjects/{sobject}/{record['Id']}",
            }
        }
        for name in fields:
            relationship, dot, related_field = name.partition(".")
            if not dot:
                row[name] = record.get(name)
                continue
            reference, target = RELATIONSHIPS[sobject][relationship]
            related = self.records[target].get(str(record.get(reference) or ""))
            if related is None:
                row[relationship] = None
                continue
            nested = row.get(relationship) or {
                "attributes": {
                    "type": target,
                    "url": f"/services/data/{version}/sobjects/{target}/{related['Id']}",
                }
            }
            nested[related_field] = related.get(related_field)
            row[relationship] = nested
        return row

    # --- sandbox hooks ---

    def limits_json(self) -> dict:
        return {"daily_limit": self.daily.limit, "daily_used": self.daily.used}

    def hook_limits_get(self, request: Request) -> Response:
        return Response(200, self.limits_json())

    def hook_limits_set(self, request: Request) -> Response:
        data = request.json() or {}
        self.config.daily_limit = int(data.get("daily_limit", self.config.daily_limit))
        self.configure_limits()
        self.daily.used = int(data.get("daily_used", 0))
        return Response(200, self.limits_json())

    def hook_dump(self, request: Request) -> Response:
        sobject = self.sobject(request.params["sobject"])
        with self.lock:
            rows = [dict(r) for r in self.records[sobject].values()]
        return Response(200, {"total": len(rows), "records": rows})

    def handle_hook(self, request: Request) -> Response:
        try:
            return super().handle_hook(request)
        except SalesforceError as error:
            return Response(error.status, {"error": error.message})

    def hook_seed(self, request: Request) -> Response:
        data = request.json() or {}
        with self.lock:
            return Response(200, self.seed(data))

    def seed(self, data: dict) -> dict:
        """Fill the store fast, bypassing limits, faults and field rules.

        `{"Account": 100, "Contact": 50000, "Opportunity": 200, "Task": 10, "Event": 10,
        "Campaign": 2, "CampaignMember": 40, "AccountContactRole": true,
        "OpportunityContactRole": true}` generates records (contacts, opportunities and
        activities spread round-robin over the accounts, campaign members over the campaigns
        and contacts, every other one responded); a list of field maps
        instead of a number inserts exactly those, duplicates of external ids included (to get a
        300). Modification dates run from `modified_start` by `modified_step_ms`.
        """
        order = ["Account", "Contact", "Opportunity", "Task", "Event", "Campaign", "CampaignMember"]
        roles = ["AccountContactRole", "OpportunityContactRole"]
        unknown = set(data) - set(order) - set(roles) - {"modified_start", "modified_step_ms"}
        if unknown:
            raise ValueError(f"unknown seed keys: {', '.join(sorted(unknown))}")
        counts = {
            k: (v if isinstance(v, int) and not isinstance(v, bool) else len(v or []))
            for k, v in data.items()
            if k in order
        }
        total = sum(counts.values()) or 1
        step = timedelta(milliseconds=int(data.get("modified_step_ms", 1000)))
        start = parse_sf_datetime(data.get("modified_start")) or (utcnow() - step * total)
        moment = start
        ids: dict[str, list[str]] = {}

        def insert(sobject: str, fields: dict) -> str:
            nonlocal moment
            clean, errors = self.clean_fields(sobject, fields, allow_read_only=True)
            if errors:
                raise ValueError(f"{sobject}: {[e['message'] for e in errors]}")
            stamp = parse_sf_datetime(clean.get("LastModifiedDate")) or moment
            clean.pop("LastModifiedDate", None)
            clean.pop("SystemModstamp", None)
            record_id, _ = self.apply(sobject, None, clean, now=stamp)
            if "CreatedDate" not in clean:
                self.records[sobject][record_id]["CreatedDate"] = sf_datetime(stamp)
            moment += step
            ids.setdefault(sobject, []).append(record_id)
            return record_id

        for sobject in order:
            spec = data.get(sobject)
            if not spec:
                continue
            rows = spec if isinstance(spec, list) else range(spec)
            for index, row in enumerate(rows):
                fields = row if isinstance(row, dict) else self.generated(sobject, index, ids)
                insert(sobject, fields)
        if data.get("AccountContactRole") is True:
            for index, contact_id in enumerate(ids.get("Contact", [])):
                contact = self.records["Contact"][contact_id]
                if contact.get("AccountId"):
                    insert(
                        "AccountContactRole",
                        {
                            "AccountId": contact["AccountId"],
                            "ContactId": contact_id,
                            "Role": CONTACT_ROLES[index % len(CONTACT_ROLES)],
                            "IsPrimary": index % 5 == 0,
                        },
                    )
        elif isinstance(data.get("AccountContactRole"), list):
            for row in data["AccountContactRole"]:
                insert("AccountContactRole", row)
        if data.get("OpportunityContactRole") is True:
            contacts = ids.get("Contact", [])
            for index, opportunity_id in enumerate(ids.get("Opportunity", [])):
                if contacts:
                    insert(
                        "OpportunityContactRole",
                        {
                            "OpportunityId": opportunity_id,
                            "ContactId": contacts[index % len(contacts)],
                            "Role": CONTACT_ROLES[index % len(CONTACT_ROLES)],
                            "IsPrimary": True,
                        },
                    )
        elif isinstance(data.get("OpportunityContactRole"), list):
            for row in data["OpportunityContactRole"]:
                insert("OpportunityContactRole", row)
        return seed_summary(ids)

    def generated(self, sobject: str, index: int, ids: dict) -> dict:
        accounts = ids.get("Account") or []
        contacts = ids.get("Contact") or []
        account = accounts[index % len(accounts)] if accounts else None
        n = self.next_number
        if sobject == "Account":
            return {"Name": f"Account {n}", "Website": f"account{n}.example"}
        if sobject == "Contact":
            return {
                "AccountId": account,
                "FirstName": "Contact",
                "LastName": str(n),
                "Email": f"contact{n}@sandbox.example",
                "Title": "Buyer",
            }
        if sobject == "Opportunity":
            return {
                "AccountId": account,
                "Name": f"Opportunity {n}",
                "StageName": STAGES[index % len(STAGES)],
                "Amount": 1000 * (index % 50 + 1),
                "CloseDate": (utcnow().date() + timedelta(days=index % 120)).isoformat(),
            }
        contact = contacts[index % len(contacts)] if contacts else None
        when = utcnow() - timedelta(days=index % 90)
        if sobject == "Campaign":
            return {"Name": f"Campaign {n}", "Type": "Webinar", "IsActive": True}
        if sobject == "CampaignMember":
            campaigns = ids.get("Campaign") or []
            return {
                "CampaignId": campaigns[index % len(campaigns)] if campaigns else None,
                "ContactId": contact,
                "Status": "Responded" if index % 2 else "Sent",
            }
        if sobject == "Task":
            return {
                "WhoId": contact,
                "WhatId": account,
                "Subject": f"Call {n}",
                "TaskSubtype": "Call" if index % 2 else "Email",
                "Status": "Completed",
                "ActivityDate": when.date().isoformat(),
            }
        return {
            "WhoId": contact,
            "WhatId": account,
            "Subject": f"Meeting {n}",
            "ActivityDateTime": sf_datetime(when),
            "ActivityDate": when.date().isoformat(),
            "DurationInMinutes": 30,
        }


def _infer_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "double"
    return "string"


def _as_request_error(error: dict) -> dict:
    return {
        "message": error["message"],
        "errorCode": error["statusCode"],
        "fields": error["fields"],
    }
