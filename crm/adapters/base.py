"""The one interface every CRM adapter speaks, and the HTTP transport they share.

An adapter turns Accord's facts about an account (a backend-neutral payload, see
crm.selectors.push_payloads) into the CRM's fields (`render`), and writes batches of them
(`push`), answering one RecordResult per record: written (with the CRM's id, and whether it was
created) or refused (with the CRM's message and answer). A whole batch that cannot be written
raises instead:

- `Deferred`: the CRM's daily allowance is used up (HubSpot's DAILY policy, Salesforce's 403
  REQUEST_LIMIT_EXCEEDED) or it asked to wait longer than is reasonable; the work waits until
  `retry_at` without counting as a failed attempt.
- `TransientError`: timeouts, 5xx and rate-limit answers went on after every retry.
- `ConfigurationError`: the CRM refuses our credentials or settings; nothing will work until
  someone fixes them.

The transport retries only idempotent requests (upserts by key, updates by id, reads, signed
webhook deliveries of full state): Retry-After when the CRM gives it, exponential backoff with
jitter otherwise. Every request first takes a token from the CRM's shared bucket.

During a push the transport carries the worker's lease on the entries it sends
(`Adapter.set_lease`, a crm.outbox.Lease): right before each request, first try or retry, the
lease is renewed or checked in the database, and a worker that lost it sends nothing more
(crm.outbox.LeaseLost). Waits before a request (the bucket, backoff) take at most half the time
left on the lease, and the request's own timeouts are cut to fit in what is left, so that a
request that leaves ends (answered or timed out) while the lease still holds.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from django.utils import timezone

from crm.ratelimit import RateLimiter, WaitTooLong


@dataclass
class PushRecord:
    """One account to write: Accord's key, the neutral payload, the CRM id when known."""

    key: str
    account_id: int
    payload: dict
    crm_id: str = ""
    properties: dict = field(default_factory=dict)  # the CRM's fields, from Adapter.render


@dataclass
class RecordResult:
    key: str
    ok: bool
    crm_id: str = ""
    created: bool = False
    message: str = ""
    response: Any = None


class CrmError(Exception):
    def __init__(self, message: str, *, response: Any = None):
        super().__init__(message)
        self.message = message
        self.response = response


class TransientError(CrmError):
    """The CRM did not answer usefully, even after retrying."""


class ConfigurationError(CrmError):
    """Credentials or settings are wrong: retrying will not help until someone fixes them."""


class Deferred(CrmError):
    """Stop for now and come back at `retry_at` (a daily allowance is used up)."""

    def __init__(self, message: str, *, retry_at: datetime, response: Any = None):
        super().__init__(message, response=response)
        self.retry_at = retry_at


@dataclass
class RetryPolicy:
    max_tries: int = 5
    base_seconds: float = 1.0
    max_seconds: float = 30.0
    retry_after_max_seconds: float = 120.0

    def backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter: somewhere in the upper half of base × 2^attempt."""
        ceiling = min(self.max_seconds, self.base_seconds * (2**attempt))
        return random.uniform(ceiling / 2, ceiling)


@dataclass
class TransportStats:
    requests: int = 0
    writes: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    network_errors: int = 0
    waited_seconds: float = 0.0


def answer_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


def retry_after_seconds(response: httpx.Response) -> float | None:
    """`Retry-After` as seconds (it may also be an HTTP date); None when absent or unreadable."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - timezone.now()).total_seconds())


# A request is not sent with less time than this for each of its phases (connect, write, read).
MIN_REQUEST_SECONDS = 0.1


class Transport:
    """httpx with the shared rate limit and the retry rules. One per adapter, reused."""

    def __init__(
        self,
        *,
        base_url: str = "",
        headers: dict | None = None,
        timeout: float = 10.0,
        policy: RetryPolicy | None = None,
        limiter: RateLimiter | None = None,
        defer: Callable[[httpx.Response], Deferred | None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        # verify=False only skips building a TLS context for plain-http URLs; https URLs are
        # verified (httpx builds the context lazily per connection pool otherwise).
        verify = not base_url.startswith("http://")
        self.client = httpx.Client(
            base_url=base_url, headers=headers or {}, timeout=timeout, verify=verify
        )
        self.policy = policy or RetryPolicy()
        self.limiter = limiter
        self.defer = defer
        self.sleep = sleep
        self.stats = TransportStats()
        self._lock = threading.Lock()  # several threads of one push share a transport
        self.deadline: float | None = None  # time.monotonic() by which a batch must be done
        self.timeout = float(timeout)
        self._local = threading.local()  # each thread of a push holds its own lease

    @property
    def lease(self):
        """What this thread is sending under: an object whose `hold()` renews or checks the
        lease and returns the seconds left on it (raising when it is lost), or None."""
        return getattr(self._local, "lease", None)

    @lease.setter
    def lease(self, value) -> None:
        self._local.lease = value

    def close(self) -> None:
        self.client.close()

    def _lease_left(self) -> float | None:
        lease = self.lease
        return None if lease is None else lease.hold()

    def _out_of_lease(self, what: str, left: float, last: str) -> TransientError:
        return TransientError(
            f"Out of time for this batch: {what}, and {left:.0f} s are left on its lease; "
            f"last answer {last}"
        )

    def _wait(self, seconds: float, last: str) -> None:
        if self.deadline is not None and time.monotonic() + seconds > self.deadline:
            # A batch must finish well within its entries' lease and the task's time limit.
            raise TransientError(f"Out of time for this batch; last answer {last}")
        left = self._lease_left()
        if left is not None and seconds > left / 2:
            raise self._out_of_lease(f"a retry would wait {seconds:.1f} s", left, last)
        self.stats.waited_seconds += seconds
        self.sleep(seconds)

    def _take_tokens(self, limiters: Iterable[RateLimiter], last: str):
        """Wait for the rate limits, within half of what is left on the lease, then make sure
        the lease is still ours right before the request leaves. Returns the request's
        timeout: the client's own, cut to fit in the lease (connect, write and read)."""
        left = self._lease_left()
        waited = 0.0
        for bucket in (self.limiter, *limiters):
            if bucket is None:
                continue
            within = None if left is None else max(0.0, left / 2 - waited)
            try:
                waited += bucket.acquire(within=within)
            except WaitTooLong as too_long:
                self.stats.waited_seconds += waited
                raise self._out_of_lease(
                    f"the rate limit asks to wait {too_long.wait:.1f} s", left or 0.0, last
                ) from None
        self.stats.waited_seconds += waited
        if left is None:
            return httpx.USE_CLIENT_DEFAULT
        if waited > 0:
            # The wait may have lasted longer than asked (a stalled process): check again.
            left = self._lease_left()
        timeout = min(self.timeout, left / 3)
        if timeout < MIN_REQUEST_SECONDS:
            raise self._out_of_lease("too little to send a request", left, last)
        return timeout

    def request(
        self,
        method: str,
        url: str,
        *,
        idempotent: bool,
        write: bool = False,
        limiters: Iterable[RateLimiter] = (),
        sign: Callable[[bytes], dict] | None = None,
        content: bytes | None = None,
        on_unauthorized: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send, retrying what may be retried; returns the final answer (2xx or a 4xx the
        caller must read), or raises Deferred / TransientError / ConfigurationError."""
        policy = self.policy
        last = "no answer"
        last_body: Any = None
        refreshed = False
        attempt = 0
        while attempt < policy.max_tries:
            timeout = self._take_tokens(limiters, last)
            headers = dict(kwargs.pop("headers", None) or {})
            if sign is not None:
                headers.update(sign(content or b""))
            with self._lock:
                self.stats.requests += 1
                self.stats.writes += int(write)
            try:
                response = self.client.request(
                    method, url, content=content, headers=headers, timeout=timeout, **kwargs
                )
            except httpx.TransportError as error:  # timeouts, refused or reset connections
                self.stats.network_errors += 1
                last = f"{type(error).__name__}: {error or 'no detail'}"
                if not idempotent:
                    raise TransientError(
                        f"{last} (not retried: the request is not idempotent)"
                    ) from error
                attempt += 1
                if attempt < policy.max_tries:
                    self.stats.retries += 1
                    self._wait(policy.backoff(attempt - 1), last)
                kwargs["headers"] = headers
                continue
            kwargs["headers"] = headers
            if self.defer is not None:
                deferred = self.defer(response)
                if deferred is not None:
                    raise deferred
            status = response.status_code
            if status == 401 and on_unauthorized is not None and not refreshed:
                refreshed = True
                if on_unauthorized():
                    continue
            if status in (401, 403):
                raise ConfigurationError(
                    f"The CRM refused the credentials ({status}): {describe(response)}",
                    response=answer_body(response),
                )
            if status == 429 or status >= 500:
                last, last_body = f"{status}: {describe(response)}", answer_body(response)
                if status == 429:
                    self.stats.rate_limited += 1
                else:
                    self.stats.server_errors += 1
                if not idempotent:
                    raise TransientError(f"{last} (not retried: the request is not idempotent)")
                attempt += 1
                if attempt >= policy.max_tries:
                    break
                self.stats.retries += 1
                wait = retry_after_seconds(response)
                if wait is not None and wait > policy.retry_after_max_seconds:
                    raise Deferred(
                        f"The CRM asked to wait {wait:.0f} s ({last}).",
                        retry_at=timezone.now() + timedelta(seconds=wait),
                        response=last_body,
                    )
                self._wait(wait if wait is not None else policy.backoff(attempt - 1), last)
                continue
            return response
        raise TransientError(
            f"Gave up after {policy.max_tries} tries; last answer {last}", response=last_body
        )


def describe(response: httpx.Response) -> str:
    """The CRM's own words for an answer: its message when it gave one."""
    body = answer_body(response)
    if isinstance(body, dict):
        message = body.get("message") or body.get("error_description") or body.get("error")
        if message:
            return str(message)[:1000]
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return "; ".join(str(item.get("message", item)) for item in body)[:1000]
    return str(body)[:1000] or response.reason_phrase


def chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Adapter:
    """The interface every backend implements (see crm/adapters/none.py for the smallest)."""

    name = "none"
    batch_size = 100
    #: Whether a digest of what was delivered is kept, so that nothing unchanged is resent.
    keeps_digests = False

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep):
        self.sleep = sleep
        self.transport: Transport | None = None

    @property
    def stats(self) -> TransportStats:
        return self.transport.stats if self.transport else TransportStats()

    def set_deadline(self, at: float | None) -> None:
        """Retries stop (TransientError) rather than wait past `at` (time.monotonic())."""
        if self.transport is not None:
            self.transport.deadline = at

    def set_lease(self, lease) -> None:
        """Requests of this thread are sent under `lease` (crm.outbox.Lease; None: no lease)."""
        if self.transport is not None:
            self.transport.lease = lease

    def plan(self, *, records_without_crm_id: int) -> None:
        """Told once per run how many accounts have no CRM id yet (to choose how to match)."""

    def render(self, payload: dict) -> dict:
        return dict(payload)

    def push(self, records: list[PushRecord]) -> list[RecordResult]:
        """Write the records (their `properties` are rendered); one result per record, in
        order. Raises Deferred, TransientError or ConfigurationError for the whole batch."""
        raise NotImplementedError

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
