"""HubSpot's webhooks, inbound: verifying the v3 signature, ignoring repeated events, and
queueing a pull of the objects they name.

HubSpot signs each request with the app's client secret (HUBSPOT_CLIENT_SECRET):

    X-HubSpot-Request-Timestamp: <unix milliseconds>
    X-HubSpot-Signature-v3:      base64(HMAC-SHA256(secret, method + URI + body + timestamp))

where the URI is the full target URL (scheme, host, path, query), with the characters
`%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B` decoded, and the body is the raw bytes
received. A request whose timestamp is more than five minutes away from now is refused, so a
captured request cannot be replayed later; HubSpot's own retries of a delivery carry a new
timestamp and signature but the same event ids, which are stored and ignored the second time.

A webhook only makes a change arrive sooner: the scheduled incremental pull reads every change
anyway, so an event lost on the way (the broker down when it came) costs only time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from crm.models import ProcessedWebhookEvent
from crm.pull import records

logger = logging.getLogger(__name__)

MAX_AGE_SECONDS = 300
SIGNATURE_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
# Decoded in the URI before signing, as HubSpot's instructions list them.
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(_DECODED), re.IGNORECASE)

# The object types a subscription names: `contact.creation` (legacy CRM object
# subscriptions), or `object.propertyChange` with `objectTypeId` (generic ones).
LEGACY_TYPES = {"contact": "contacts", "company": "companies", "deal": "deals"}
OBJECT_TYPE_IDS = {
    "0-1": "contacts",
    "0-2": "companies",
    "0-3": "deals",
    "0-47": "meetings",
    "0-48": "calls",
    "0-49": "emails",
}
PULL_BATCH = 100


# --- the signature -----------------------------------------------------------------------------


def decode_uri(uri: str) -> str:
    return _ENCODED.sub(lambda m: _DECODED[m.group(0).upper()], uri)


def signature_v3(secret: str, *, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + decode_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_hubspot(
    *, secret: str, method: str, uri: str, body: bytes, headers, now: float | None = None
) -> str | None:
    """None when the request is HubSpot's; otherwise why it is refused."""
    given = (headers.get(SIGNATURE_HEADER) or "").strip()
    timestamp = (headers.get(TIMESTAMP_HEADER) or "").strip()
    if not given or not timestamp:
        return f"The request is not signed: {SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are needed."
    if not timestamp.isdigit():
        return f"{TIMESTAMP_HEADER} must be Unix time in milliseconds."
    age = (now if now is not None else time.time()) - int(timestamp) / 1000
    if abs(age) > MAX_AGE_SECONDS:
        return (
            f"The request was signed {abs(age):.0f} s from now; more than "
            f"{MAX_AGE_SECONDS // 60} minutes is refused (a replay, or a clock far off)."
        )
    expected = signature_v3(secret, method=method, uri=uri, body=body, timestamp=timestamp)
    if not hmac.compare_digest(expected.encode(), given.encode()):
        return "The signature does not match this request and the app's client secret."
    return None


# --- the events --------------------------------------------------------------------------------


@dataclass
class Received:
    events: int = 0
    repeated: int = 0  # seen before: ignored
    not_read: int = 0  # about objects the pull does not read (tickets, products, …)
    queued: dict[str, list[str]] = field(default_factory=dict)  # object type → ids to pull

    @property
    def objects_queued(self) -> int:
        return sum(len(ids) for ids in self.queued.values())


MAX_EVENTS = 1_000  # HubSpot sends at most 100 a request; more is not HubSpot
_ID_FIELDS = ("eventId", "objectId", "primaryObjectId", "newObjectId", "fromObjectId")
_NUMBER_FIELDS = ("portalId", "subscriptionId", "appId", "occurredAt", "attemptNumber")
_TEXT_FIELDS = ("subscriptionType", "objectTypeId", "propertyName", "changeSource")


class MalformedEvents(ValueError):
    """A signed body that is not a list of HubSpot events: answered 400, with the reason."""


def _is_id(value) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (
        isinstance(value, str) and len(value) <= 50 and value.isascii() and value.isdigit()
    )


def _check_text(value, where: str) -> None:
    """Strings must be real Unicode: JSON may carry a lone surrogate (\\ud800) that no
    database column can store."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedEvents(f"{where} is not valid Unicode text.") from None
    elif isinstance(value, list):
        for item in value:
            _check_text(item, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, where)
            _check_text(item, where)


def parse_hubspot_events(body: bytes) -> list[dict]:
    """The events of a signed delivery, each field we read in the type HubSpot sends it.
    Raises MalformedEvents (the request is answered 400) for anything else."""
    try:
        events = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: thousands of nested brackets exhaust the parser's stack.
        raise MalformedEvents("The body is not JSON.") from None
    if not isinstance(events, list):
        raise MalformedEvents("Expected a JSON list of HubSpot events.")
    if len(events) > MAX_EVENTS:
        raise MalformedEvents(f"At most {MAX_EVENTS} events a request.")
    for index, event in enumerate(events):
        where = f"Event {index}"
        if not isinstance(event, dict):
            raise MalformedEvents(f"{where} is not a JSON object.")
        for name in _ID_FIELDS:
            if event.get(name) is not None and not _is_id(event[name]):
                raise MalformedEvents(f"{where}: {name} must be a whole number.")
        for name in _NUMBER_FIELDS:
            value = event.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise MalformedEvents(f"{where}: {name} must be a whole number.")
        for name in _TEXT_FIELDS:
            if event.get(name) is not None and not isinstance(event[name], str):
                raise MalformedEvents(f"{where}: {name} must be a string.")
        merged = event.get("mergedObjectIds")
        if merged is not None and (
            not isinstance(merged, list) or len(merged) > MAX_EVENTS or not all(map(_is_id, merged))
        ):
            raise MalformedEvents(f"{where}: mergedObjectIds must be a list of whole numbers.")
        _check_text(event, where)
    return events


def event_key(event: dict) -> str:
    """HubSpot's event ids are not promised to be unique on their own: with the portal and the
    subscription they are."""
    event_id = event.get("eventId")
    if event_id in (None, ""):
        return ""
    return f"{event.get('portalId', '')}:{event.get('subscriptionId', '')}:{event_id}"[:120]


def event_objects(event: dict) -> tuple[str, list[str]]:
    """(object type, ids) an event is about; ("", []) for objects the pull does not read."""
    subscription = str(event.get("subscriptionType") or "")
    prefix, _, action = subscription.partition(".")
    if prefix == "object":
        object_type = OBJECT_TYPE_IDS.get(str(event.get("objectTypeId") or ""), "")
    else:
        object_type = LEGACY_TYPES.get(prefix, "")
    if not object_type:
        return "", []
    if action == "associationChange":
        named = [event.get("fromObjectId")]
    else:
        # A merge names the record kept and those merged into it (gone now: forgotten).
        named = [event.get("objectId"), event.get("primaryObjectId"), event.get("newObjectId")]
        named += list(event.get("mergedObjectIds") or [])
    ids = [str(i) for i in named if i is not None and str(i).isdigit()]
    return object_type, list(dict.fromkeys(ids))


def hubspot_events_receive(*, events: list[dict]) -> Received:
    """Record a delivery's events and queue a pull of the objects the new ones name (after
    commit, 100 objects per task). Events seen before are ignored.

    1. Each event with an id is inserted under a unique (source, key) constraint, tagged with
       this delivery; those that were there already are repeats.
    2. The new events' objects are grouped by type and queued for pull_objects, unless
       CRM_BACKEND is not hubspot (then nothing is pulled).
    """
    from crm.pull.services import pull_backend

    received = Received(events=len(events))
    batch = uuid.uuid4()
    keyed = {key: event for event in events if (key := event_key(event))}
    rows = []
    for key, event in keyed.items():
        object_type, ids = event_objects(event)
        rows.append(
            ProcessedWebhookEvent(
                source="hubspot",
                event_key=key,
                batch=batch,
                subscription_type=str(event.get("subscriptionType") or "")[:100],
                object_type=object_type,
                object_id=(ids[0] if ids else "")[:50],
                occurred_at=records.moment(event.get("occurredAt")),
            )
        )
    with transaction.atomic():
        ProcessedWebhookEvent.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        fresh = set(
            ProcessedWebhookEvent.objects.filter(
                source="hubspot", event_key__in=list(keyed), batch=batch
            ).values_list("event_key", flat=True)
        )
        handled: set[str] = set()
        for event in events:
            key = event_key(event)
            if key:
                if key in handled or key not in fresh:
                    received.repeated += 1  # delivered before, or twice in this delivery
                    continue
                handled.add(key)
            object_type, ids = event_objects(event)
            if not object_type:
                received.not_read += 1
                continue
            queued = received.queued.setdefault(object_type, [])
            queued.extend(i for i in ids if i not in queued)
        if received.queued and pull_backend() == "hubspot":
            queued = {t: list(ids) for t, ids in received.queued.items()}
            transaction.on_commit(lambda: _queue_pulls(queued))
        else:
            received.queued = {}
    return received


def _queue_pulls(queued: dict[str, list[str]]) -> None:
    from crm import tasks

    for object_type, ids in queued.items():
        for start in range(0, len(ids), PULL_BATCH):
            group = ids[start : start + PULL_BATCH]
            try:
                tasks.pull_objects.delay("hubspot", object_type, group)
            except Exception as error:  # the broker is down: the scheduled pull reads them
                logger.warning("Could not queue a pull of %s %s: %s", object_type, group, error)


def webhook_events_forget() -> int:
    """Forget event ids older than CRM_WEBHOOK_EVENTS_KEEP_DAYS (HubSpot stops retrying a
    delivery long before). Returns how many."""
    limit = timezone.now() - timedelta(days=settings.CRM_WEBHOOK_EVENTS_KEEP_DAYS)
    deleted, _ = ProcessedWebhookEvent.objects.filter(received_at__lt=limit).delete()
    return deleted
