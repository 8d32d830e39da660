"""A HubSpot-compatible CRM server (CRM v3 objects, search, properties, owners; v4 associations).

Every rule names the documented HubSpot behaviour it mirrors. Where HubSpot's exact wording is not
documented, the message keeps HubSpot's shape (`status`, `message`, `correlationId`, `category`,
`context`) and says plainly what went wrong.
"""

from __future__ import annotations

import bisect
import fnmatch
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from .core import (
    DailyQuota,
    Request,
    Response,
    RollingWindow,
    Route,
    SandboxApp,
    new_correlation_id,
    seed_summary,
    utcnow,
)
from .hubspot_schema import (
    ASSOCIATION_TYPE_IDS,
    ASSOCIATION_TYPES,
    BUYING_ROLES,
    DEAL_STAGES,
    ENGAGEMENTS,
    FIELD_TYPES,
    OBJECT_TYPES,
    READ_ONLY,
    TYPE_ALIASES,
    ObjectType,
    default_groups,
    default_properties,
)

BATCH_LIMIT = 100  # "Batch endpoints ... limited to 100 inputs per request" (CRM objects API)
SEARCH_PAGE_LIMIT = 200  # "The maximum number of supported objects per page is 200" (Search API)
SEARCH_RESULT_CAP = 10_000  # "limited to 10,000 total results ... beyond 10,000 → 400" (Search API)
SEARCH_MAX_GROUPS = 5  # "up to five filterGroups with up to 6 filters in each group,
SEARCH_MAX_FILTERS = 6  #  with a maximum of 18 filters in total" (Search API)
SEARCH_MAX_TOTAL_FILTERS = 18
LIST_PAGE_LIMIT = 100  # GET /crm/v3/objects/{type}: "limit ... max 100"
ASSOC_PAGE_LIMIT = 500  # GET /crm/v4/objects/.../associations/{to}: "limit max 500"
ASSOC_BATCH_LIMIT = 1000  # v4 associations batch read: 1,000 inputs
OWNERS_PAGE_LIMIT = 500


@dataclass
class HubSpotConfig:
    token: str = "sandbox-token"
    rate_limit: int = 100  # requests per rolling window ("100 per 10 s", Professional: 190)
    rate_window_seconds: float = 10.0
    search_rate_limit: int = 5  # "five requests per second per account" (Search API)
    search_window_seconds: float = 1.0
    daily_limit: int = 500_000  # private apps: 500,000 a day on Professional
    portal_id: int = 20251122
    app_id: int = 4242
    owners: list[dict] | None = None
    verbose: bool = False
    # What the rate windows read the time from; a test passes its own clock to step past a
    # window instead of waiting for it.
    clock: Callable[[], float] = time.monotonic


def iso(moment: datetime) -> str:
    """HubSpot's timestamps: `2025-11-03T23:36:13.632Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_moment(value: Any) -> datetime | None:
    """A datetime property value or filter: epoch milliseconds, ISO 8601, or a date."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and re.fullmatch(r"-?\d+", value)):
        return datetime.fromtimestamp(int(value) / 1000, UTC)
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


class HubSpotError(Exception):
    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR", **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.category = category
        self.extra = extra

    def response(self) -> Response:
        return error_response(self.status, self.message, self.category, **self.extra)


def error_response(status: int, message: str, category: str, **extra) -> Response:
    """HubSpot's error body: status, message, correlationId, category (+ context, errors, links).

    Documented in "API error handling": every error carries `status: "error"`, a `message`, a
    `correlationId` and a `category`; validation errors list their causes in `errors`.
    """
    body = {
        "status": "error",
        "message": message,
        "correlationId": new_correlation_id(),
        "category": category,
    }
    body.update(extra)
    return Response(status, body)


def record_error(category: str, message: str, context: dict) -> dict:
    """One entry of a multi-status answer's `errors` (the official client requires every key)."""
    return {
        "status": "error",
        "category": category,
        "message": message,
        "context": context,
        "errors": [],
        "links": {},
    }


@dataclass
class StoredObject:
    id: str
    type: str
    properties: dict[str, str]
    created_at: datetime
    updated_at: datetime
    archived: bool = False
    cache: dict[str, Any] = field(default_factory=dict)


@dataclass
class PropertyProblem:
    name: str
    error: str
    message: str

    def as_json(self) -> dict:
        return {
            "isValid": False,
            "message": self.message,
            "error": self.error,
            "name": self.name,
            "localizedErrorMessage": self.message,
        }


@dataclass
class BatchOutcome:
    results: list[dict] = field(default_factory=list)
    errors: list[dict] = field(default_factory=list)


class HubSpotSandbox(SandboxApp):
    kind = "hubspot"
    label_keep = {"type", "fromType", "toType"}

    def __init__(self, config: HubSpotConfig | None = None):
        super().__init__()
        self.config = config or HubSpotConfig()
        self.configure_limits()
        self.reset_store()
        self._routes()

    # --- setup ---

    def configure_limits(self) -> None:
        c = self.config
        self.window = RollingWindow(c.rate_limit, c.rate_window_seconds, clock=c.clock)
        self.search_window = RollingWindow(
            c.search_rate_limit, c.search_window_seconds, clock=c.clock
        )
        self.daily = DailyQuota(c.daily_limit)

    def reset_store(self) -> None:
        self.objects: dict[str, dict[str, StoredObject]] = {t: {} for t in OBJECT_TYPES}
        self.properties = default_properties()
        self.groups = default_groups()
        # (type, property) -> value -> object id, for properties with hasUniqueValue.
        self.unique: dict[tuple[str, str], dict[str, str]] = {}
        # (type, id) -> to type -> to id -> primary?
        self.associations: dict[tuple[str, str], dict[str, dict[str, bool]]] = {}
        self.next_id = 1001
        self.versions: dict[str, int] = dict.fromkeys(OBJECT_TYPES, 0)
        self.search_cache: dict[tuple, tuple[int, list[StoredObject], list[int]]] = {}
        self.owners = [self._owner(o) for o in (self.config.owners or default_owners())]

    def _routes(self) -> None:
        add = self.router.add
        objects = "/crm/v3/objects/:type"
        add("GET", objects, self.list_objects)
        add("POST", objects, self.create_object, write=True)
        add("POST", objects + "/search", self.search, search=True)
        add("POST", objects + "/batch/create", self.batch_create, write=True)
        add("POST", objects + "/batch/update", self.batch_update, write=True)
        add("POST", objects + "/batch/upsert", self.batch_upsert, write=True)
        add("POST", objects + "/batch/read", self.batch_read)
        add("GET", objects + "/:id", self.get_object)
        add("PATCH", objects + "/:id", self.update_object, write=True)
        add("GET", "/crm/v3/properties/:type", self.list_properties)
        add("POST", "/crm/v3/properties/:type", self.create_property, write=True)
        add("GET", "/crm/v3/properties/:type/groups", self.list_groups)
        add("POST", "/crm/v3/properties/:type/groups", self.create_group, write=True)
        add("GET", "/crm/v3/properties/:type/:name", self.get_property)
        add("PATCH", "/crm/v3/properties/:type/:name", self.update_property, write=True)
        add("GET", "/crm/v3/owners", self.list_owners)
        add("GET", "/crm/v3/owners/:ownerId", self.get_owner)
        v4 = "/crm/v4/objects/:fromType/:id/associations"
        add("GET", v4 + "/:toType", self.associations_for_object)
        add("PUT", v4 + "/default/:toType/:toId", self.associate_default, write=True)
        batch = "/crm/v4/associations/:fromType/:toType/batch"
        add("POST", batch + "/read", self.associations_batch_read)
        add("POST", batch + "/associate/default", self.associations_batch_default, write=True)
        add("POST", batch + "/create", self.associations_batch_create, write=True)

        hook = self.hooks.add
        hook("POST", "/__sandbox__/seed", self.hook_seed)
        hook("GET", "/__sandbox__/objects/:type", self.hook_dump)
        hook("POST", "/__sandbox__/objects/:type/:id", self.hook_record)
        hook("POST", "/__sandbox__/owners", self.hook_owners)
        hook("GET", "/__sandbox__/limits", self.hook_limits_get)
        hook("POST", "/__sandbox__/limits", self.hook_limits_set)

    # --- the answers the base class asks for ---

    def fault_429(self) -> Response:
        response = self.rate_limited("TEN_SECONDLY_ROLLING", remaining=0)
        if self.faults.plan.retry_after is not None:
            response.headers["Retry-After"] = _seconds(self.faults.plan.retry_after)
        return response

    def fault_503(self) -> Response:
        return error_response(
            503, "The service is temporarily unavailable. Please try again.", "SERVICE_UNAVAILABLE"
        )

    def not_found(self, request: Request) -> Response:
        return error_response(404, f"No route for {request.method} {request.path}", "NOT_FOUND")

    def bad_json(self, message: str) -> Response:
        return error_response(400, f"Invalid input JSON: {message}", "VALIDATION_ERROR")

    # --- auth and limits ---

    def api_response(self, route: Route, request: Request) -> Response:
        if request.bearer_token() != self.config.token:
            # "Authentication credentials not found" with category INVALID_AUTHENTICATION is
            # HubSpot's 401 for a missing or unknown token.
            return error_response(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        accepted, remaining = self.window.acquire()
        if not accepted:
            return self.rate_limited("TEN_SECONDLY_ROLLING", remaining=0)
        accepted, _daily_remaining = self.daily.acquire()
        if not accepted:
            return self.rate_limited("DAILY", remaining=remaining)
        if route.search:
            searched, _ = self.search_window.acquire()
            if not searched:
                # The search endpoints' own per-second limit answers "You have reached your
                # secondly limit." (no policyName in the bodies HubSpot has been seen to send).
                self.counters.limited("SECONDLY")
                response = Response(
                    429,
                    {
                        "status": "error",
                        "message": "You have reached your secondly limit.",
                        "errorType": "RATE_LIMIT",
                        "correlationId": new_correlation_id(),
                    },
                )
                self.add_rate_headers(response, remaining)
                return response
        try:
            with self.lock:
                response = route.handler(request)
        except HubSpotError as error:
            response = error.response()
        self.add_rate_headers(response, remaining)
        return response

    def add_rate_headers(self, response: Response, remaining: int) -> None:
        # "Rate limit information headers": every answer to a private-app token carries the
        # rolling limit, what is left of it, its length, and the daily allowance.
        response.headers.update(
            {
                "X-HubSpot-RateLimit-Max": str(self.window.limit),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(self.window.seconds * 1000)),
                "X-HubSpot-RateLimit-Daily": str(self.daily.limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(self.daily.remaining()),
            }
        )

    def rate_limited(self, policy: str, *, remaining: int) -> Response:
        # The 429 body of "API usage guidelines and limits": status, message naming the limit,
        # errorType RATE_LIMIT, correlationId and policyName (TEN_SECONDLY_ROLLING or DAILY).
        self.counters.limited(policy)
        message = {
            "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
            "DAILY": "You have reached your daily limit.",
        }[policy]
        group = {
            "TEN_SECONDLY_ROLLING": "publicapi:private_app-api-calls-ten-secondly",
            "DAILY": "publicapi:private_app-api-calls-daily",
        }[policy]
        response = Response(
            429,
            {
                "status": "error",
                "message": message,
                "errorType": "RATE_LIMIT",
                "correlationId": new_correlation_id(),
                "policyName": policy,
                "groupName": f"{group}:{self.config.app_id}:{self.config.portal_id}",
            },
        )
        self.add_rate_headers(response, remaining)
        return response

    # --- helpers ---

    def object_type(self, name: str) -> ObjectType:
        name = TYPE_ALIASES.get(name, name)
        if name not in OBJECT_TYPES:
            raise HubSpotError(400, f"Unable to infer object type from: {name}", "VALIDATION_ERROR")
        return OBJECT_TYPES[name]

    def new_id(self) -> str:
        value = str(self.next_id)
        self.next_id += 1
        return value

    def body(self, request: Request) -> dict:
        data = request.json()
        if not isinstance(data, dict):
            raise HubSpotError(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        return data

    def inputs(self, data: dict, limit: int = BATCH_LIMIT) -> list[dict]:
        inputs = data.get("inputs")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            raise HubSpotError(
                400,
                "Invalid input JSON: some of required attributes are not set [inputs]",
                "VALIDATION_ERROR",
            )
        if len(inputs) > limit:
            # Batch endpoints take at most 100 inputs; the wording follows HubSpot's
            # "The maximum number of inputs supported in a batch request ... is 50" error.
            raise HubSpotError(
                400,
                f"The maximum number of inputs supported in a batch request is {limit}. "
                f"Got {len(inputs)} inputs; please reduce the number of items and try again.",
                "VALIDATION_ERROR",
                context={"limit": [str(limit)], "inputs": [str(len(inputs))]},
            )
        return inputs

    def refuse_duplicates(self, ids: list[str]) -> None:
        # 400 "Duplicate IDs found in batch input: [..]. IDs must be unique", context.ids.
        seen, dupes = set(), []
        for value in ids:
            if value in seen and value not in dupes:
                dupes.append(value)
            seen.add(value)
        if dupes:
            raise HubSpotError(
                400,
                f"Duplicate IDs found in batch input: [{', '.join(dupes)}]. IDs must be unique",
                "VALIDATION_ERROR",
                context={"ids": dupes},
            )

    def unique_property(self, otype: ObjectType, name: str | None) -> str | None:
        """None for the record id; otherwise a property with hasUniqueValue, or a 400."""
        if not name:
            return None
        prop = self.properties[otype.name].get(name)
        if prop is None or not prop["hasUniqueValue"]:
            # "Unable to perform update/upsert by non-unique 0-2 property X in portal ID N"
            # (400 VALIDATION_ERROR): idProperty must name a property with unique values.
            raise HubSpotError(
                400,
                f"Unable to perform update/upsert by non-unique {otype.type_id} property "
                f"{name} in portal ID {self.config.portal_id}",
                "VALIDATION_ERROR",
            )
        return name

    def find(self, otype: ObjectType, key: str, id_property: str | None) -> StoredObject | None:
        if id_property is None:
            return self.objects[otype.name].get(key)
        found = self.unique.get((otype.name, id_property), {}).get(
            self.unique_key(id_property, key)
        )
        return self.objects[otype.name].get(found) if found else None

    @staticmethod
    def unique_key(name: str, value: str) -> str:
        return value.lower() if name == "email" else value

    # --- property values ---

    def clean_properties(
        self, otype: ObjectType, raw: Any, *, allow_read_only: bool = False
    ) -> tuple[dict[str, str | None], list[PropertyProblem]]:
        """HubSpot validates every value against its property's type and options."""
        if raw is None:
            return {}, []
        if not isinstance(raw, dict):
            raise HubSpotError(400, "Invalid input JSON: properties must be an object")
        clean: dict[str, str | None] = {}
        problems: list[PropertyProblem] = []
        definitions = self.properties[otype.name]
        for name, value in raw.items():
            prop = definitions.get(name)
            if prop is None:
                problems.append(
                    PropertyProblem(
                        name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist'
                    )
                )
                continue
            if name in READ_ONLY and not allow_read_only:
                continue  # HubSpot ignores values sent for read-only properties
            converted, problem = self.convert(otype, prop, value)
            if problem:
                problems.append(problem)
            else:
                clean[name] = converted
        return clean, problems

    def convert(self, otype: ObjectType, prop: dict, value: Any) -> tuple[str | None, Any]:
        name, kind = prop["name"], prop["type"]
        if value is None or value == "":
            return None, None
        if isinstance(value, bool):
            value = "true" if value else "false"
        text = str(value)
        if name == "hubspot_owner_id":
            if text not in {o["id"] for o in self.owners}:
                return None, PropertyProblem(
                    name, "INVALID_OWNER_ID", f"{text} is not a valid owner id"
                )
            return text, None
        if kind == "number":
            try:
                number = float(text)
            except ValueError:
                return None, PropertyProblem(
                    name, "INVALID_INTEGER", f"{text} was not a valid number."
                )
            return (str(int(number)) if number.is_integer() and "." not in text else text), None
        if kind == "bool":
            if text.lower() not in ("true", "false"):
                return None, PropertyProblem(
                    name, "INVALID_BOOLEAN", f"{text} was not a valid boolean."
                )
            return text.lower(), None
        if kind in ("datetime", "date"):
            moment = parse_moment(text)
            if moment is None:
                return None, PropertyProblem(name, "INVALID_DATE", f"{text} was not a valid date.")
            return (iso(moment) if kind == "datetime" else moment.date().isoformat()), None
        if kind == "enumeration":
            allowed = {o["value"] for o in prop["options"]}
            parts = text.split(";") if prop["fieldType"] == "checkbox" else [text]
            for part in parts:
                if part not in allowed:
                    return None, PropertyProblem(
                        name,
                        "INVALID_OPTION",
                        f"{part} was not one of the allowed options: "
                        f"[{', '.join(sorted(allowed))}]",
                    )
            return text, None
        if name == "email":
            text = text.lower()
        return text, None

    def invalid(self, problems: list[PropertyProblem]) -> HubSpotError:
        # 400 "Property values were not valid: [...]" with one entry per bad value; the whole
        # batch is refused and nothing is written.
        detail = json.dumps([p.as_json() for p in problems], separators=(",", ":"))
        return HubSpotError(
            400,
            f"Property values were not valid: {detail}",
            "VALIDATION_ERROR",
            errors=[
                {
                    "message": p.message,
                    "code": p.error,
                    "context": {"propertyName": [p.name]},
                }
                for p in problems
            ],
        )

    def unique_conflict(
        self, otype: ObjectType, clean: dict, own_id: str | None
    ) -> tuple[str, str, str] | None:
        for name, value in clean.items():
            if value is None or not self.properties[otype.name][name]["hasUniqueValue"]:
                continue
            holder = self.unique.get((otype.name, name), {}).get(self.unique_key(name, value))
            if holder and holder != own_id:
                return name, value, holder
        return None

    def conflict_error(self, otype: ObjectType, conflict: tuple[str, str, str], context: dict):
        name, value, holder = conflict
        if otype.name == "contacts" and name == "email":
            message = f"Contact already exists. Existing ID: {holder}"
        else:
            message = (
                f"A {otype.singular} with {name}={value} already exists. Existing ID: {holder}"
            )
        return record_error("CONFLICT", message, context | {"existingId": [holder]})

    # --- writing ---

    def write(
        self,
        otype: ObjectType,
        obj: StoredObject | None,
        clean: dict[str, str | None],
        now: datetime | None = None,
    ) -> tuple[StoredObject, bool]:
        """Create or update one object; keeps the unique index and the modification dates."""
        now = now or utcnow()
        created = obj is None
        if created:
            object_id = self.new_id()
            obj = StoredObject(object_id, otype.name, {}, now, now)
            obj.properties["hs_object_id"] = object_id
            obj.properties[otype.created] = iso(now)
            self.objects[otype.name][object_id] = obj
        for name, value in clean.items():
            if self.properties[otype.name][name]["hasUniqueValue"]:
                index = self.unique.setdefault((otype.name, name), {})
                old = obj.properties.get(name)
                if old is not None:
                    index.pop(self.unique_key(name, old), None)
                if value is not None:
                    index[self.unique_key(name, value)] = obj.id
            if value is None:
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = value
        if otype.name == "deals":
            stage = obj.properties.get("dealstage")
            obj.properties["hs_is_closed"] = str(stage in ("closedwon", "closedlost")).lower()
            obj.properties["hs_is_closed_won"] = str(stage == "closedwon").lower()
            obj.properties.setdefault("pipeline", "default")
        obj.cache.clear()
        self.versions[otype.name] += 1
        # Every write moves the last-modified property (hs_lastmodifieddate, or
        # lastmodifieddate for contacts) and updatedAt: what incremental pulls filter on.
        obj.updated_at = now
        obj.properties[otype.modified] = iso(now)
        if created:
            obj.created_at = now
        return obj, created

    def serialize(
        self,
        obj: StoredObject,
        properties: list[str] | None = None,
        *,
        all_properties: bool = False,
        associations: list[str] | None = None,
    ) -> dict:
        otype = OBJECT_TYPES[obj.type]
        if all_properties:
            props = dict(obj.properties)
        else:
            wanted = list(properties) if properties else list(otype.defaults)
            # Asked-for properties come back (null when unset) with the three HubSpot always adds.
            for always in ("hs_object_id", otype.created, otype.modified):
                if always not in wanted:
                    wanted.append(always)
            props = {name: obj.properties.get(name) for name in wanted}
        body = {
            "id": obj.id,
            "properties": props,
            "createdAt": iso(obj.created_at),
            "updatedAt": iso(obj.updated_at),
            "archived": obj.archived,
        }
        if associations:
            found = {}
            for to_type in associations:
                to_type = TYPE_ALIASES.get(to_type, to_type)
                targets = self.associations.get((obj.type, obj.id), {}).get(to_type, {})
                if targets:
                    found[to_type] = {
                        "results": [
                            {
                                "id": to_id,
                                "type": f"{otype.singular}_to_{OBJECT_TYPES[to_type].singular}",
                            }
                            for to_id in sorted(targets, key=int)
                        ]
                    }
            if found:
                body["associations"] = found
        return body

    def batch_answer(self, outcome: BatchOutcome, started: datetime, ok_status: int) -> Response:
        # Batch answers: status COMPLETE, results, startedAt/completedAt; with per-record
        # failures the answer is 207 Multi-Status with `errors` and `numErrors` ("Multi-status
        # errors" in the error-handling guide) and the successful records are applied.
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": outcome.results,
            "startedAt": iso(started),
            "completedAt": iso(utcnow()),
            "links": {},
        }
        if outcome.errors:
            body["numErrors"] = len(outcome.errors)
            body["errors"] = outcome.errors
            return Response(207, body)
        return Response(ok_status, body)

    def fault_context(self, item: dict, key: str | None) -> dict:
        context: dict[str, list[str]] = {"ids": [key] if key else []}
        if item.get("objectWriteTraceId") is not None:
            context["objectWriteTraceId"] = [str(item["objectWriteTraceId"])]
        return context

    def injected_error(self, item: dict, key: str | None) -> dict | None:
        props = item.get("properties") or {}
        values = [key, item.get("id"), item.get("objectWriteTraceId"), *props.values()]
        if self.faults.record_fails(*values):
            self.counters.fault("record_error")
            return record_error(
                "VALIDATION_ERROR",
                self.faults.plan.record_error_message,
                self.fault_context(item, key or item.get("id")),
            )
        return None

    # --- objects: batch ---

    def batch_create(self, request: Request) -> Response:
        started = utcnow()
        otype = self.object_type(request.params["type"])
        items = self.inputs(self.body(request))
        cleaned = []
        problems: list[PropertyProblem] = []
        for item in items:
            clean, bad = self.clean_properties(otype, item.get("properties"))
            problems.extend(bad)
            cleaned.append(clean)
            self.check_associations(otype, item.get("associations"))
        if problems:
            raise self.invalid(problems)
        outcome = BatchOutcome()
        created = 0
        for item, clean in zip(items, cleaned, strict=True):
            error = self.injected_error(item, None)
            conflict = self.unique_conflict(otype, clean, None)
            if conflict and not error:
                error = self.conflict_error(otype, conflict, self.fault_context(item, None))
            if error:
                outcome.errors.append(error)
                continue
            obj, _ = self.write(otype, None, clean)
            self.add_input_associations(otype, obj, item.get("associations"))
            created += 1
            outcome.results.append(self.serialize(obj, all_properties=True))
        self.counters.records(created=created)
        return self.batch_answer(outcome, started, 201)  # batch create answers 201 Created

    def batch_update(self, request: Request) -> Response:
        started = utcnow()
        otype = self.object_type(request.params["type"])
        items = self.inputs(self.body(request))
        ids = [str(item.get("id", "")) for item in items]
        self.refuse_duplicates(ids)
        id_props = {item.get("idProperty") for item in items}
        for name in id_props:
            self.unique_property(otype, name)
        cleaned, problems = [], []
        for item in items:
            clean, bad = self.clean_properties(otype, item.get("properties"))
            problems.extend(bad)
            cleaned.append(clean)
        if problems:
            raise self.invalid(problems)
        outcome = BatchOutcome()
        missing: list[str] = []
        updated = 0
        for item, key, clean in zip(items, ids, cleaned, strict=True):
            obj = self.find(otype, key, item.get("idProperty"))
            if obj is None:
                missing.append(key)
                continue
            error = self.injected_error(item, key)
            conflict = self.unique_conflict(otype, clean, obj.id)
            if conflict and not error:
                error = self.conflict_error(otype, conflict, self.fault_context(item, key))
            if error:
                outcome.errors.append(error)
                continue
            self.write(otype, obj, clean)
            updated += 1
            outcome.results.append(self.serialize(obj, all_properties=True))
        if missing:
            # Unknown ids fail together in one error; the others are updated (207).
            outcome.errors.append(
                record_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {otype.upper} objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    {"ids": missing},
                )
            )
        self.counters.records(updated=updated)
        return self.batch_answer(outcome, started, 200)

    def batch_upsert(self, request: Request) -> Response:
        started = utcnow()
        otype = self.object_type(request.params["type"])
        items = self.inputs(self.body(request))
        for item in items:
            # Upsert finds records by a unique property: idProperty is required on every input.
            if not item.get("idProperty"):
                raise HubSpotError(
                    400,
                    "Invalid input: idProperty is required for upsert; it must name a property "
                    "with unique values",
                    "VALIDATION_ERROR",
                )
            self.unique_property(otype, item["idProperty"])
        keys = [self.unique_key(item["idProperty"], str(item.get("id", ""))) for item in items]
        self.refuse_duplicates(keys)
        cleaned, problems = [], []
        for item in items:
            clean, bad = self.clean_properties(otype, item.get("properties"))
            key_prop = self.properties[otype.name][item["idProperty"]]
            key_value, bad_key = self.convert(otype, key_prop, item.get("id"))
            if bad_key:
                bad.append(bad_key)
            elif key_value is None:
                bad.append(PropertyProblem(item["idProperty"], "INVALID_ID", "id is required"))
            clean[item["idProperty"]] = key_value
            problems.extend(bad)
            cleaned.append(clean)
        if problems:
            raise self.invalid(problems)
        outcome = BatchOutcome()
        created = updated = 0
        for item, clean in zip(items, cleaned, strict=True):
            key = clean[item["idProperty"]]
            obj = self.find(otype, key, item["idProperty"])
            error = self.injected_error(item, key)
            conflict = self.unique_conflict(otype, clean, obj.id if obj else None)
            if conflict and not error:
                error = self.conflict_error(otype, conflict, self.fault_context(item, key))
            if error:
                outcome.errors.append(error)
                continue
            obj, new = self.write(otype, obj, clean)
            created += new
            updated += not new
            # Upsert results say whether the record is new.
            outcome.results.append(self.serialize(obj, all_properties=True) | {"new": new})
        self.counters.records(created=created, updated=updated)
        return self.batch_answer(outcome, started, 200)

    def batch_read(self, request: Request) -> Response:
        started = utcnow()
        otype = self.object_type(request.params["type"])
        data = self.body(request)
        items = self.inputs(data)
        id_property = self.unique_property(otype, data.get("idProperty"))
        properties = data.get("properties") or None
        outcome = BatchOutcome()
        missing = []
        for item in items:
            key = str(item.get("id", ""))
            obj = self.find(otype, key, id_property)
            if obj is None:
                missing.append(key)
            else:
                outcome.results.append(self.serialize(obj, properties))
        if missing:
            outcome.errors.append(
                record_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {otype.upper} objects, they may be deleted or not "
                    "exist. Check that ids are valid.",
                    {"ids": missing},
                )
            )
        return self.batch_answer(outcome, started, 200)

    # --- objects: one at a time ---

    def get_object(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        id_property = self.unique_property(otype, request.arg("idProperty"))
        obj = self.find(otype, request.params["id"], id_property)
        if obj is None:
            return error_response(
                404,
                "Object not found.  objectId are usually numeric.",
                "OBJECT_NOT_FOUND",
                context={"id": [request.params["id"]]},
            )
        return Response(
            200,
            self.serialize(
                obj, request.args("properties") or None, associations=request.args("associations")
            ),
        )

    def list_objects(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        limit = _int(request.arg("limit", "10"), "limit")
        if not 0 < limit <= LIST_PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be between 1 and {LIST_PAGE_LIMIT}")
        after = _int(request.arg("after", "0") or "0", "after")
        rows = [o for o in self.objects[otype.name].values() if int(o.id) >= after]
        rows.sort(key=lambda o: int(o.id))
        page = rows[:limit]
        body: dict[str, Any] = {
            "results": [
                self.serialize(
                    o, request.args("properties") or None, associations=request.args("associations")
                )
                for o in page
            ]
        }
        if len(rows) > limit:
            next_after = str(int(page[-1].id) + 1)
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"{self.base_url}{request.path}?after={next_after}",
                }
            }
        return Response(200, body)

    def create_object(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        data = self.body(request)
        clean, problems = self.clean_properties(otype, data.get("properties"))
        if problems:
            raise self.invalid(problems)
        self.check_associations(otype, data.get("associations"))
        conflict = self.unique_conflict(otype, clean, None)
        if conflict:
            error = self.conflict_error(otype, conflict, {})
            raise HubSpotError(409, error["message"], "CONFLICT", context=error["context"])
        obj, _ = self.write(otype, None, clean)
        self.add_input_associations(otype, obj, data.get("associations"))
        self.counters.records(created=1)
        return Response(201, self.serialize(obj, all_properties=True))

    def update_object(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        id_property = self.unique_property(otype, request.arg("idProperty"))
        obj = self.find(otype, request.params["id"], id_property)
        if obj is None:
            return error_response(
                404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND"
            )
        clean, problems = self.clean_properties(otype, self.body(request).get("properties"))
        if problems:
            raise self.invalid(problems)
        conflict = self.unique_conflict(otype, clean, obj.id)
        if conflict:
            error = self.conflict_error(otype, conflict, {})
            raise HubSpotError(409, error["message"], "CONFLICT", context=error["context"])
        self.write(otype, obj, clean)
        self.counters.records(updated=1)
        return Response(200, self.serialize(obj, all_properties=True))

    # --- search ---

    def search(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        data = self.body(request)
        limit = _int(data.get("limit", 10), "limit")
        if not 0 <= limit <= SEARCH_PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be between 0 and {SEARCH_PAGE_LIMIT}, got {limit}")
        after = _int(data.get("after") or 0, "after")
        if after >= SEARCH_RESULT_CAP:
            # The search endpoints stop at 10,000 results: paging past them answers 400.
            raise HubSpotError(
                400,
                f"The search API returns at most {SEARCH_RESULT_CAP} results for a query; "
                f"after={after} is beyond that. Narrow the query (e.g. hs_object_id GT the "
                "last id seen) instead of paging further.",
                "VALIDATION_ERROR",
            )
        groups = data.get("filterGroups") or []
        if len(groups) > SEARCH_MAX_GROUPS:
            raise HubSpotError(400, f"Too many filter groups: at most {SEARCH_MAX_GROUPS}.")
        total_filters = 0
        for group in groups:
            filters = group.get("filters") or []
            total_filters += len(filters)
            if len(filters) > SEARCH_MAX_FILTERS:
                raise HubSpotError(
                    400, f"Too many filters in a group: at most {SEARCH_MAX_FILTERS}."
                )
            for flt in filters:
                if flt.get("propertyName") not in self.properties[otype.name]:
                    raise HubSpotError(
                        400,
                        f"There was a problem with the request: unknown property "
                        f"{flt.get('propertyName')!r} in a filter",
                    )
        if total_filters > SEARCH_MAX_TOTAL_FILTERS:
            raise HubSpotError(400, f"Too many filters: at most {SEARCH_MAX_TOTAL_FILTERS} in all.")
        sorts = data.get("sorts") or []
        if len(sorts) > 1:
            # "You can use one sorting rule per search."
            raise HubSpotError(400, "Only one sort is allowed per search.")
        query = (data.get("query") or "").strip().lower()

        rows = self.search_rows(otype, groups, sorts, query)
        total = len(rows)
        end = min(after + limit, SEARCH_RESULT_CAP)
        page = rows[after:end]
        body: dict[str, Any] = {
            "total": total,
            "results": [self.serialize(o, data.get("properties") or None) for o in page],
        }
        if after + len(page) < total and page:
            # The next cursor is given even when it lies at 10,000: asking for it gets the 400.
            body["paging"] = {"next": {"after": str(after + len(page))}}
        return Response(200, body)

    def search_rows(
        self, otype: ObjectType, groups: list[dict], sorts: list, query: str
    ) -> list[StoredObject]:
        """Every match, in order.

        A pull pages with the same filters and a moving `hs_object_id GT <last id>` bound, so the
        matches without that bound are kept (until the next write to the object type) and the
        bound is applied by bisection: paging through 50,000 records stays linear.
        """
        bound = None
        base_groups = groups
        by_id = not sorts or _sort_name(sorts[0]) == ("hs_object_id", False)
        if len(groups) == 1 and by_id:
            filters = groups[0].get("filters") or []
            bounds = [
                f
                for f in filters
                if f.get("propertyName") == "hs_object_id"
                and (f.get("operator") or "").upper() in ("GT", "GTE")
            ]
            if len(bounds) == 1:
                bound = bounds[0]
                rest = [f for f in filters if f is not bound]
                base_groups = [{"filters": rest}] if rest else []
        key = (otype.name, _freeze(base_groups), _freeze(sorts), query)
        cached = self.search_cache.get(key)
        if cached is None or cached[0] != self.versions[otype.name]:
            compiled = [self.compile_group(otype, g.get("filters") or []) for g in base_groups]
            rows = [
                o
                for o in self.objects[otype.name].values()
                if (not compiled or any(group(o) for group in compiled))
                and (not query or self.matches_query(o, query))
            ]
            if sorts:
                rows = self.sort(otype, rows, sorts[0])
            else:
                rows.sort(key=lambda o: int(o.id))  # oldest first, the default order
            cached = (self.versions[otype.name], rows, [int(o.id) for o in rows] if by_id else [])
            self.search_cache[key] = cached
            while len(self.search_cache) > 16:
                self.search_cache.pop(next(iter(self.search_cache)))
        rows = cached[1]
        if bound is not None:
            try:
                limit = float(bound.get("value"))
            except (TypeError, ValueError):
                raise HubSpotError(400, "hs_object_id filters need a number") from None
            ids = cached[2]
            if bound["operator"].upper() == "GT":
                start = bisect.bisect_right(ids, limit)
            else:
                start = bisect.bisect_left(ids, limit)
            rows = rows[start:]
        return rows

    def matches_query(self, obj: StoredObject, query: str) -> bool:
        for name in ("name", "domain", "website", "email", "firstname", "lastname", "dealname"):
            value = obj.properties.get(name)
            if value and query in value.lower():
                return True
        return obj.id == query

    def comparable(self, otype: ObjectType, name: str, value: Any) -> Any:
        """A value in the form filters and sorts compare: float, epoch ms, or lower-case text."""
        prop = self.properties[otype.name][name]
        if value is None or value == "":
            return None
        if prop["type"] == "number":
            try:
                return float(value)
            except (TypeError, ValueError):
                return None
        if prop["type"] in ("datetime", "date"):
            moment = parse_moment(value)
            return millis(moment) if moment else None
        return str(value).lower()

    def stored(self, otype: ObjectType, obj: StoredObject, name: str) -> Any:
        # Comparable forms are cached on the object until its next write: a pull pages through
        # tens of thousands of records with the same filters.
        try:
            return obj.cache[name]
        except KeyError:
            value = obj.cache[name] = self.comparable(otype, name, obj.properties.get(name))
            return value

    def compile_group(self, otype: ObjectType, filters: list[dict]):
        checks = [self.compile_filter(otype, flt) for flt in filters]
        return lambda obj: all(check(obj) for check in checks)

    def compile_filter(self, otype: ObjectType, flt: dict):
        """A predicate for one filter, with its operands converted once."""
        name = flt.get("propertyName")
        operator = (flt.get("operator") or "EQ").upper()
        prop = self.properties[otype.name][name]
        multi = prop["type"] == "enumeration" and prop["fieldType"] == "checkbox"

        def value(v: Any) -> Any:
            return self.comparable(otype, name, v)

        def stored(obj: StoredObject) -> Any:
            return self.stored(otype, obj, name)

        def stored_set(obj: StoredObject) -> set[str]:
            raw = obj.properties.get(name)
            return {part.lower() for part in raw.split(";")} if raw else set()

        if operator == "HAS_PROPERTY":
            return lambda obj: stored(obj) is not None
        if operator == "NOT_HAS_PROPERTY":
            return lambda obj: stored(obj) is None
        if operator in ("EQ", "NEQ"):
            target = value(flt.get("value"))
            if multi:
                equal = lambda obj: target in stored_set(obj)  # noqa: E731
            else:
                equal = lambda obj: stored(obj) == target  # noqa: E731
            return equal if operator == "EQ" else (lambda obj: not equal(obj))
        if operator in ("IN", "NOT_IN"):
            targets = {value(v) for v in flt.get("values") or []}
            if multi:
                inside = lambda obj: bool(stored_set(obj) & targets)  # noqa: E731
            else:
                inside = lambda obj: stored(obj) in targets  # noqa: E731
            return inside if operator == "IN" else (lambda obj: not inside(obj))
        if operator in ("GT", "GTE", "LT", "LTE", "BETWEEN"):
            low = value(flt.get("value"))
            high = value(flt.get("highValue")) if operator == "BETWEEN" else None
            compare = {
                "GT": lambda v: v > low,
                "GTE": lambda v: v >= low,
                "LT": lambda v: v < low,
                "LTE": lambda v: v <= low,
                "BETWEEN": lambda v: low <= v <= high,
            }[operator]

            def ordered(obj: StoredObject) -> bool:
                current = stored(obj)
                if current is None:
                    return False
                try:
                    return compare(current)
                except TypeError:
                    return False

            return ordered
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(flt.get("value") or "").lower()

            def contains(obj: StoredObject) -> bool:
                text = (obj.properties.get(name) or "").lower()
                tokens = set(re.split(r"[^\w@.-]+", text)) | set(re.split(r"\W+", text)) | {text}
                if "*" in token:
                    return any(fnmatch.fnmatchcase(t, token) for t in tokens)
                return token in tokens

            return contains if operator == "CONTAINS_TOKEN" else (lambda obj: not contains(obj))
        raise HubSpotError(400, f"Unknown filter operator {operator}")

    def sort(self, otype: ObjectType, rows: list[StoredObject], rule: Any) -> list[StoredObject]:
        if isinstance(rule, str):
            name, descending = rule.lstrip("-"), rule.startswith("-")
        else:
            name = rule.get("propertyName")
            descending = (rule.get("direction") or "ASCENDING").upper() == "DESCENDING"
        if name not in self.properties[otype.name]:
            raise HubSpotError(400, f"Cannot sort by unknown property {name!r}")
        present = [o for o in rows if self.stored(otype, o, name) is not None]
        absent = [o for o in rows if self.stored(otype, o, name) is None]
        present.sort(key=lambda o: (self.stored(otype, o, name), int(o.id)), reverse=descending)
        return present + absent

    # --- properties ---

    def list_properties(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        return Response(200, {"results": list(self.properties[otype.name].values())})

    def get_property(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        prop = self.properties[otype.name].get(request.params["name"])
        if prop is None:
            return error_response(
                404,
                f"Unable to find property {request.params['name']} for object type {otype.type_id}",
                "OBJECT_NOT_FOUND",
            )
        return Response(200, prop)

    def create_property(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        data = self.body(request)
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not data.get(k)
        ]
        if missing:
            raise HubSpotError(400, f"Missing required fields: {', '.join(missing)}")
        name = data["name"]
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise HubSpotError(
                400, f"Property name {name!r} must start with a letter and use a-z, 0-9 and _."
            )
        if name in self.properties[otype.name]:
            # Creating a property that exists answers 409 CONFLICT.
            return error_response(
                409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )
        kind, field_type = data["type"], data["fieldType"]
        if kind not in FIELD_TYPES or field_type not in FIELD_TYPES[kind]:
            raise HubSpotError(400, f"fieldType {field_type!r} cannot be used with type {kind!r}")
        if data["groupName"] not in self.groups[otype.name]:
            raise HubSpotError(400, f"Property group {data['groupName']} does not exist.")
        unique = bool(data.get("hasUniqueValue"))
        if unique and kind not in ("string", "number"):
            raise HubSpotError(400, "Only string and number properties can require unique values.")
        options = data.get("options") or []
        if kind == "enumeration" and not options:
            raise HubSpotError(400, "Enumeration properties need options.")
        if kind == "bool" and not options:
            options = [{"label": "Yes", "value": "true"}, {"label": "No", "value": "false"}]
        now = iso(utcnow())
        prop = {
            "name": name,
            "label": data["label"],
            "type": kind,
            "fieldType": field_type,
            "description": data.get("description") or "",
            "groupName": data["groupName"],
            "options": [
                {
                    "label": o.get("label", o.get("value")),
                    "value": o["value"],
                    "displayOrder": o.get("displayOrder", i),
                    "hidden": bool(o.get("hidden", False)),
                    "description": o.get("description") or "",
                }
                for i, o in enumerate(options)
            ],
            "displayOrder": data.get("displayOrder", -1),
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": unique,
            "hidden": bool(data.get("hidden", False)),
            "hubspotDefined": False,
            "formField": bool(data.get("formField", False)),
            "archived": False,
            "createdAt": now,
            "updatedAt": now,
            "modificationMetadata": {
                "archivable": True,
                "readOnlyDefinition": False,
                "readOnlyValue": False,
            },
        }
        self.properties[otype.name][name] = prop
        return Response(201, prop)

    def update_property(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        prop = self.properties[otype.name].get(request.params["name"])
        if prop is None or prop["hubspotDefined"]:
            return error_response(
                404 if prop is None else 400,
                f"Cannot update property {request.params['name']}",
                "OBJECT_NOT_FOUND" if prop is None else "VALIDATION_ERROR",
            )
        data = self.body(request)
        for key in ("label", "description", "groupName", "hidden", "displayOrder", "formField"):
            if key in data:
                prop[key] = data[key]
        if "options" in data:
            prop["options"] = [
                {
                    "label": o.get("label", o.get("value")),
                    "value": o["value"],
                    "displayOrder": o.get("displayOrder", i),
                    "hidden": bool(o.get("hidden", False)),
                    "description": o.get("description") or "",
                }
                for i, o in enumerate(data["options"])
            ]
        prop["updatedAt"] = iso(utcnow())
        return Response(200, prop)

    def list_groups(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        return Response(200, {"results": list(self.groups[otype.name].values())})

    def create_group(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        data = self.body(request)
        name = data.get("name")
        if not name or not data.get("label"):
            raise HubSpotError(400, "Missing required fields: name, label")
        if name in self.groups[otype.name]:
            return error_response(
                409, f"Property group named '{name}' already exists.", "OBJECT_ALREADY_EXISTS"
            )
        group = {
            "name": name,
            "label": data["label"],
            "displayOrder": data.get("displayOrder", -1),
            "archived": False,
        }
        self.groups[otype.name][name] = group
        return Response(201, group)

    # --- owners ---

    def _owner(self, data: dict) -> dict:
        now = iso(utcnow())
        owner_id = str(data["id"])
        return {
            "id": owner_id,
            "email": data.get("email") or f"owner{owner_id}@sandbox.example",
            "type": "PERSON",
            "firstName": data.get("firstName", "Owner"),
            "lastName": data.get("lastName", owner_id),
            "userId": int(data.get("userId", owner_id)),
            "userIdIncludingInactive": int(data.get("userId", owner_id)),
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
            "teams": [],
        }

    def list_owners(self, request: Request) -> Response:
        owners = self.owners
        email = request.arg("email")
        if email:
            owners = [o for o in owners if o["email"].lower() == email.lower()]
        limit = _int(request.arg("limit", "100"), "limit")
        if not 0 < limit <= OWNERS_PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be between 1 and {OWNERS_PAGE_LIMIT}")
        after = _int(request.arg("after", "0") or "0", "after")
        page = owners[after : after + limit]
        body: dict[str, Any] = {"results": page}
        if after + limit < len(owners):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, body)

    def get_owner(self, request: Request) -> Response:
        for owner in self.owners:
            if owner["id"] == request.params["ownerId"]:
                return Response(200, owner)
        return error_response(404, "Owner not found.", "OBJECT_NOT_FOUND")

    # --- associations (v4) ---

    def association_types(self, from_type: str, to_type: str, primary: bool) -> list[dict]:
        plain, primary_id = ASSOCIATION_TYPES[(from_type, to_type)]
        types = []
        if primary and primary_id is not None:
            types.append({"category": "HUBSPOT_DEFINED", "typeId": primary_id, "label": "Primary"})
        types.append({"category": "HUBSPOT_DEFINED", "typeId": plain, "label": None})
        return types

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, *, primary: bool | None = None
    ) -> None:
        """Associations are two-way; the first company of a contact or deal becomes its primary."""
        if (from_type, to_type) not in ASSOCIATION_TYPES:
            raise HubSpotError(
                400, f"{from_type} cannot be associated with {to_type} in this sandbox"
            )
        forward = self.associations.setdefault((from_type, from_id), {}).setdefault(to_type, {})
        backward = self.associations.setdefault((to_type, to_id), {}).setdefault(from_type, {})
        if primary is None:
            primary = to_type == "companies" and not any(forward.values())
        if primary and to_type == "companies":
            for other in forward:
                forward[other] = False
            if from_type == "contacts":
                contact = self.objects["contacts"].get(from_id)
                if contact:
                    contact.properties["associatedcompanyid"] = to_id
        forward[to_id] = forward.get(to_id, False) or primary
        backward[from_id] = backward.get(from_id, False) or (primary and from_type == "companies")

    def check_associations(self, otype: ObjectType, associations: Any) -> None:
        for assoc in associations or []:
            to_id = str((assoc.get("to") or {}).get("id", ""))
            for spec in assoc.get("types") or []:
                found = ASSOCIATION_TYPE_IDS.get(int(spec.get("associationTypeId", 0)))
                if not found or found[0] != otype.name:
                    raise HubSpotError(
                        400,
                        f"Invalid association type {spec.get('associationTypeId')} "
                        f"for {otype.name}",
                    )
                if to_id not in self.objects[found[1]]:
                    raise HubSpotError(
                        400, f"Cannot associate with {found[1]} {to_id}: it does not exist"
                    )

    def add_input_associations(self, otype: ObjectType, obj: StoredObject, associations) -> None:
        for assoc in associations or []:
            to_id = str(assoc["to"]["id"])
            for spec in assoc.get("types") or []:
                _from, to_type, primary = ASSOCIATION_TYPE_IDS[int(spec["associationTypeId"])]
                self.associate(otype.name, obj.id, to_type, to_id, primary=primary or None)

    def targets(self, from_type: str, from_id: str, to_type: str) -> list[dict]:
        targets = self.associations.get((from_type, from_id), {}).get(to_type, {})
        return [
            {
                "toObjectId": int(to_id),
                "associationTypes": self.association_types(from_type, to_type, primary),
            }
            for to_id, primary in sorted(targets.items(), key=lambda kv: int(kv[0]))
        ]

    def associations_for_object(self, request: Request) -> Response:
        from_type = self.object_type(request.params["fromType"]).name
        to_type = self.object_type(request.params["toType"]).name
        limit = _int(request.arg("limit", str(ASSOC_PAGE_LIMIT)), "limit")
        if not 0 < limit <= ASSOC_PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be between 1 and {ASSOC_PAGE_LIMIT}")
        after = _int(request.arg("after", "0") or "0", "after")
        rows = self.targets(from_type, request.params["id"], to_type)
        body: dict[str, Any] = {"results": rows[after : after + limit]}
        if after + limit < len(rows):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return Response(200, body)

    def associations_batch_read(self, request: Request) -> Response:
        started = utcnow()
        from_type = self.object_type(request.params["fromType"])
        to_type = self.object_type(request.params["toType"])
        items = self.inputs(self.body(request), limit=ASSOC_BATCH_LIMIT)
        outcome = BatchOutcome()
        for item in items:
            from_id = str(item.get("id", ""))
            rows = self.targets(from_type.name, from_id, to_type.name)
            if rows:
                outcome.results.append({"from": {"id": from_id}, "to": rows})
            else:
                # Objects without associations come back as 207 errors, one per object.
                error = record_error(
                    "OBJECT_NOT_FOUND",
                    f"No {to_type.singular} is associated with {from_type.singular} {from_id}.",
                    {"fromObjectId": [from_id]},
                )
                error["subCategory"] = "crm.associations.NO_ASSOCIATIONS_FOUND"
                outcome.errors.append(error)
        return self.batch_answer(outcome, started, 200)

    def _default_link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> list[dict]:
        for object_type, object_id in ((from_type, from_id), (to_type, to_id)):
            if object_id not in self.objects[object_type]:
                raise HubSpotError(
                    400,
                    f"Cannot associate: {OBJECT_TYPES[object_type].singular} {object_id} "
                    "does not exist",
                )
        self.associate(from_type, from_id, to_type, to_id)
        return [
            {
                "from": {"id": a},
                "to": {"id": b},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": ASSOCIATION_TYPES[(x, y)][0],
                },
            }
            for a, b, x, y in (
                (from_id, to_id, from_type, to_type),
                (to_id, from_id, to_type, from_type),
            )
        ]

    def associate_default(self, request: Request) -> Response:
        started = utcnow()
        from_type = self.object_type(request.params["fromType"]).name
        to_type = self.object_type(request.params["toType"]).name
        results = self._default_link(
            from_type, request.params["id"], to_type, request.params["toId"]
        )
        return self.batch_answer(BatchOutcome(results=results), started, 200)

    def associations_batch_default(self, request: Request) -> Response:
        started = utcnow()
        from_type = self.object_type(request.params["fromType"]).name
        to_type = self.object_type(request.params["toType"]).name
        outcome = BatchOutcome()
        for item in self.inputs(self.body(request), limit=ASSOC_BATCH_LIMIT):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            try:
                outcome.results.extend(self._default_link(from_type, from_id, to_type, to_id))
            except HubSpotError as error:
                outcome.errors.append(
                    record_error("VALIDATION_ERROR", error.message, {"fromObjectId": [from_id]})
                )
        return self.batch_answer(outcome, started, 200)

    def associations_batch_create(self, request: Request) -> Response:
        started = utcnow()
        from_type = self.object_type(request.params["fromType"]).name
        to_type = self.object_type(request.params["toType"]).name
        outcome = BatchOutcome()
        for item in self.inputs(self.body(request), limit=ASSOC_BATCH_LIMIT):
            from_id = str((item.get("from") or {}).get("id", ""))
            to_id = str((item.get("to") or {}).get("id", ""))
            primary = any(
                ASSOCIATION_TYPE_IDS.get(int(t.get("associationTypeId", 0)), ("", "", False))[2]
                for t in item.get("types") or []
            )
            try:
                self._default_link(from_type, from_id, to_type, to_id)
                if primary:
                    self.associate(from_type, from_id, to_type, to_id, primary=True)
            except HubSpotError as error:
                outcome.errors.append(
                    record_error("VALIDATION_ERROR", error.message, {"fromObjectId": [from_id]})
                )
                continue
            outcome.results.append(
                {
                    "fromObjectTypeId": OBJECT_TYPES[from_type].type_id,
                    "fromObjectId": int(from_id),
                    "toObjectTypeId": OBJECT_TYPES[to_type].type_id,
                    "toObjectId": int(to_id),
                    "labels": ["Primary"] if primary else [],
                }
            )
        return self.batch_answer(outcome, started, 201)

    # --- sandbox hooks ---

    def hook_limits_get(self, request: Request) -> Response:
        return Response(200, self.limits_json())

    def limits_json(self) -> dict:
        return {
            "rate_limit": self.window.limit,
            "rate_window_seconds": self.window.seconds,
            "rate_remaining": self.window.remaining(),
            "search_rate_limit": self.search_window.limit,
            "daily_limit": self.daily.limit,
            "daily_used": self.daily.used,
        }

    def hook_limits_set(self, request: Request) -> Response:
        data = request.json() or {}
        c = self.config
        c.rate_limit = int(data.get("rate_limit", c.rate_limit))
        c.rate_window_seconds = float(data.get("rate_window_seconds", c.rate_window_seconds))
        c.search_rate_limit = int(data.get("search_rate_limit", c.search_rate_limit))
        c.daily_limit = int(data.get("daily_limit", c.daily_limit))
        self.configure_limits()
        self.daily.used = int(data.get("daily_used", 0))
        return Response(200, self.limits_json())

    def hook_owners(self, request: Request) -> Response:
        data = request.json() or {}
        with self.lock:
            self.owners = [self._owner(o) for o in data.get("owners", [])]
        return Response(200, {"results": self.owners})

    def hook_dump(self, request: Request) -> Response:
        otype = self.object_type(request.params["type"])
        with self.lock:
            rows = []
            for obj in sorted(self.objects[otype.name].values(), key=lambda o: int(o.id)):
                row = self.serialize(obj, all_properties=True)
                row["associations"] = {
                    to_type: sorted(targets, key=int)
                    for to_type, targets in self.associations.get((obj.type, obj.id), {}).items()
                    if targets
                }
                rows.append(row)
        return Response(200, {"total": len(rows), "results": rows})

    def hook_record(self, request: Request) -> Response:
        """Set properties of one object as HubSpot itself would (read-only ones included: a
        web visit, a marketing e-mail click, a form submission), moving its last-modified
        date."""
        otype = self.object_type(request.params["type"])
        data = request.json() or {}
        with self.lock:
            obj = self.objects[otype.name].get(request.params["id"])
            if obj is None:
                return Response(404, {"error": "no such object"})
            clean, problems = self.clean_properties(
                otype, data.get("properties") or {}, allow_read_only=True
            )
            if problems:
                return Response(400, {"error": [p.message for p in problems]})
            obj, _ = self.write(otype, obj, clean)
            return Response(200, {"id": obj.id, "properties": dict(obj.properties)})

    def hook_seed(self, request: Request) -> Response:
        data = request.json() or {}
        with self.lock:
            return Response(200, self.seed(data))

    def seed(self, data: dict) -> dict:
        """Fill the store fast, bypassing limits and faults (not the unique index).

        `{"companies": 100, "contacts": 50000, "deals": 200, "calls": 10, ...}` generates records;
        a list of `{"properties": {...}}` instead of a number inserts those. Generated contacts,
        deals and engagements are associated round-robin with the companies (and contacts), and
        their modification dates run from `modified_start` by `modified_step_ms`.
        """
        order = ["companies", "contacts", "deals", "calls", "meetings", "emails"]
        unknown = (
            set(data)
            - set(order)
            - {
                "modified_start",
                "modified_step_ms",
                "associate",
                "associations",
            }
        )
        if unknown:
            raise ValueError(f"unknown seed keys: {', '.join(sorted(unknown))}")
        counts = {
            t: (data[t] if isinstance(data.get(t), int) else len(data.get(t) or [])) for t in order
        }
        total = sum(counts.values()) or 1
        step = timedelta(milliseconds=int(data.get("modified_step_ms", 1000)))
        start = parse_moment(data.get("modified_start")) or (utcnow() - step * total)
        associate = data.get("associate", True)
        moment = start
        ids: dict[str, list[str]] = {}
        for type_name in order:
            spec = data.get(type_name)
            if not spec:
                continue
            otype = OBJECT_TYPES[type_name]
            ids[type_name] = []
            rows = spec if isinstance(spec, list) else range(spec)
            for index, row in enumerate(rows):
                if isinstance(row, dict):
                    props = row.get("properties") or {}
                else:
                    props = self.generated(type_name, self.next_id, index)
                    if associate and type_name == "contacts" and ids.get("companies"):
                        props["associatedcompanyid"] = ids["companies"][
                            index % len(ids["companies"])
                        ]
                if isinstance(row, dict):
                    clean, problems = self.clean_properties(otype, props, allow_read_only=True)
                    if problems:
                        raise ValueError(f"{type_name}[{index}]: {[p.message for p in problems]}")
                    conflict = self.unique_conflict(otype, clean, None)
                    if conflict:
                        raise ValueError(
                            f"{type_name}[{index}]: {conflict[0]}={conflict[1]} is taken"
                        )
                else:  # generated values are valid and unique by construction
                    clean = {k: v for k, v in props.items() if v is not None}
                stamp = parse_moment(clean.get(otype.modified)) or moment
                obj, _ = self.write(otype, None, clean, now=stamp)
                if clean.get(otype.created):
                    obj.created_at = parse_moment(clean[otype.created]) or stamp
                    obj.properties[otype.created] = iso(obj.created_at)
                moment += step
                ids[type_name].append(obj.id)
                if associate and not isinstance(row, dict):
                    self.seed_links(type_name, obj.id, index, ids)
        for link in data.get("associations") or []:
            self.associate(
                link["from_type"],
                str(link["from_id"]),
                link["to_type"],
                str(link["to_id"]),
                primary=link.get("primary"),
            )
        return seed_summary(ids)

    def seed_links(self, type_name: str, object_id: str, index: int, ids: dict) -> None:
        companies = ids.get("companies") or []
        contacts = ids.get("contacts") or []
        if type_name == "contacts" and companies:
            self.associate("contacts", object_id, "companies", companies[index % len(companies)])
        elif type_name == "deals":
            if companies:
                self.associate("deals", object_id, "companies", companies[index % len(companies)])
            if contacts:
                self.associate("deals", object_id, "contacts", contacts[index % len(contacts)])
        elif type_name in ENGAGEMENTS:
            if contacts:
                contact = contacts[index % len(contacts)]
                self.associate(type_name, object_id, "contacts", contact)
                for company in self.associations.get(("contacts", contact), {}).get(
                    "companies", {}
                ):
                    self.associate(type_name, object_id, "companies", company)
            elif companies:
                self.associate(type_name, object_id, "companies", companies[index % len(companies)])

    def generated(self, type_name: str, next_id: int, index: int) -> dict:
        n = next_id
        owner = self.owners[index % len(self.owners)]["id"] if self.owners else None
        if type_name == "companies":
            return {
                "name": f"Company {n}",
                "domain": f"company{n}.example",
                "hubspot_owner_id": owner,
            }
        if type_name == "contacts":
            role = BUYING_ROLES[index % len(BUYING_ROLES)][0]
            return {
                "email": f"contact{n}@sandbox.example",
                "firstname": "Contact",
                "lastname": str(n),
                "jobtitle": "Buyer",
                "hs_buying_role": role,
                "hubspot_owner_id": owner,
            }
        if type_name == "deals":
            stage = DEAL_STAGES[index % len(DEAL_STAGES)][0]
            return {
                "dealname": f"Deal {n}",
                "dealstage": stage,
                "amount": str(1000 * (index % 50 + 1)),
                "hubspot_owner_id": owner,
            }
        titles = {
            "calls": "hs_call_title",
            "meetings": "hs_meeting_title",
            "emails": "hs_email_subject",
        }
        return {
            titles[type_name]: f"{type_name[:-1].title()} {n}",
            "hs_timestamp": iso(utcnow() - timedelta(days=index % 90)),
            "hubspot_owner_id": owner,
        }


def default_owners() -> list[dict]:
    names = [("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra")]
    return [
        {
            "id": str(101 + i),
            "email": f"{first.lower()}@sandbox.example",
            "firstName": first,
            "lastName": last,
            "userId": 9001 + i,
        }
        for i, (first, last) in enumerate(names)
    ]


def _sort_name(rule: Any) -> tuple[str, bool]:
    if isinstance(rule, str):
        return rule.lstrip("-"), rule.startswith("-")
    return rule.get("propertyName"), (rule.get("direction") or "").upper() == "DESCENDING"


def _freeze(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HubSpotError(400, f"{name} must be an integer, got {value!r}") from None


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
