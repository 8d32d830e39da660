"""A signed webhook: batches of target accounts POSTed as JSON to `CRM_WEBHOOK_URL`.

Each request carries

    X-Accord-Timestamp: <unix seconds>
    X-Accord-Signature: v1=<hex HMAC-SHA256(CRM_WEBHOOK_SECRET, "<timestamp>." + raw body)>
    X-Accord-Delivery:  <uuid of this batch; the same on every retry of it>

Each account in a batch is its whole current state (not a change), so delivering a batch twice
is harmless and failed deliveries are retried. The receiver answers 2xx to accept; it may list
records it could not take in `{"errors": [{"key": "...", "message": "..."}]}`, and those are
marked failed with its message. See docs/crm.md for verifying the signature.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid

from django.utils import timezone

from crm.adapters.base import (
    Adapter,
    ConfigurationError,
    PushRecord,
    RecordResult,
    Transport,
    answer_body,
    chunks,
    describe,
)

SIGNATURE_VERSION = "v1"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"{SIGNATURE_VERSION}={digest.hexdigest()}"


def verify(secret: str, headers: dict, body: bytes, *, tolerance: int = 300, now=None) -> bool:
    """What a receiver does (also used by the tests): the signature matches and the timestamp
    is recent, so a captured request cannot be replayed later."""
    timestamp = headers.get("X-Accord-Timestamp", "")
    given = headers.get("X-Accord-Signature", "")
    if not timestamp.isdigit():
        return False
    if abs((now or time.time()) - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), given)


class WebhookAdapter(Adapter):
    name = "webhook"
    keeps_digests = True

    def __init__(
        self, *, url: str, secret: str, batch_size: int, transport_options: dict, sleep=None
    ):
        super().__init__(**({"sleep": sleep} if sleep else {}))
        if not url or not secret:
            raise ConfigurationError("Set CRM_WEBHOOK_URL and CRM_WEBHOOK_SECRET.")
        self.url = url
        self.secret = secret
        self.batch_size = batch_size
        self.transport = Transport(sleep=self.sleep, **transport_options)

    def render(self, payload: dict) -> dict:
        return {
            "key": payload["key"],
            "name": payload["name"],
            "domain": payload["domain"],
            "is_target": bool(payload["is_target"]),
            "tier": payload["tier"],
            "cycle": payload.get("cycle"),
            "sales_owner_email": payload.get("sales_owner_email") or None,
            "marketing_owner_email": payload.get("marketing_owner_email") or None,
        }

    def _sign(self, body: bytes) -> dict:
        timestamp = str(int(time.time()))
        return {
            "X-Accord-Timestamp": timestamp,
            "X-Accord-Signature": signature(self.secret, timestamp, body),
        }

    def push(self, records: list[PushRecord]) -> list[RecordResult]:
        results: list[RecordResult] = []
        for batch in chunks(records, self.batch_size):
            results.extend(self._deliver(batch))
        return results

    def _deliver(self, batch: list[PushRecord]) -> list[RecordResult]:
        delivery = str(uuid.uuid4())
        body = json.dumps(
            {
                "type": "accord.target_accounts",
                "delivery_id": delivery,
                "sent_at": timezone.now().isoformat(),
                "accounts": [r.properties for r in batch],
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        response = self.transport.request(
            "POST",
            self.url,
            content=body,
            headers={"Content-Type": "application/json", "X-Accord-Delivery": delivery},
            sign=self._sign,
            idempotent=True,  # full state, not a change: receiving it twice is harmless
            write=True,
        )
        if not 200 <= response.status_code < 300:
            answer = answer_body(response)
            return [
                RecordResult(
                    key=r.key,
                    ok=False,
                    message=f"The webhook refused it ({response.status_code}): "
                    f"{describe(response)}",
                    response=answer,
                )
                for r in batch
            ]
        answer = answer_body(response)
        refused = {}
        if isinstance(answer, dict):
            for error in answer.get("errors") or []:
                if isinstance(error, dict) and error.get("key"):
                    refused[str(error["key"])] = error
        return [
            RecordResult(
                key=r.key,
                ok=False,
                message=str(refused[r.key].get("message") or "refused by the receiver"),
                response=refused[r.key],
            )
            if r.key in refused
            else RecordResult(key=r.key, ok=True)
            for r in batch
        ]
