"""Token buckets that keep Accord's requests below a CRM's rate limit.

Every worker on every machine shares one bucket per CRM in Redis: an atomic Lua script refills
it from Redis's own clock and *reserves* the next token, answering how long the caller must wait
before sending. Reservations queue fairly and need no polling: 19 tokens a second means one
request every 53 ms across all workers, however many there are.

Below the limit, not at it: the rate is `headroom` × limit / window, and the burst (the bucket's
capacity) is half of what that leaves, so that in any window of the CRM's length at most
`capacity + rate × window` requests leave. The CRM counts them when they arrive, and arrivals
lag departures by a varying amount (the network, a thread scheduled late): the rate is lowered
further where needed so that the request one over the limit leaves at least a window plus
`jitter_seconds` (0.25 s) after the first of the window, and no window of arrivals holds more
than the limit however the lag varies within that. With 190 per 10 s: 18.05 a second and a
burst of 4, at most 184.5 in any 10 s; with HubSpot's 5 searches a second: 4 a second (4.75
would leave 50 ms of room).

Without Redis (the embedded default, or Redis unreachable) an in-process bucket does the same
for the threads of one process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

REDIS_RETRY_SECONDS = 30

# KEYS[1] = bucket; ARGV = rate (tokens/s), capacity, cost, max_wait (s).
# Answers {reserved (1/0), wait seconds as a string}: Lua numbers become integers in replies.
RESERVE_LUA = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local max_wait = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = capacity
  ts = now
end
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens < cost then
  wait = (cost - tokens) / rate
end
if wait > max_wait then
  return {0, tostring(wait)}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity / rate + wait) * 1000) + 1000)
return {1, tostring(wait)}
"""


@dataclass(frozen=True)
class Limit:
    """A CRM's limit: `requests` per `window_seconds`."""

    requests: int
    window_seconds: float = 10.0
    headroom: float = 0.95
    jitter_seconds: float = 0.25

    @property
    def capacity(self) -> float:
        spare = self.requests * (1 - self.headroom)
        return float(max(1, math.floor(spare / 2)))

    @property
    def rate(self) -> float:
        paced = self.requests * self.headroom / self.window_seconds
        # requests + 1 leave in no less than (requests + 1 - capacity) / rate: at least a window
        # and the jitter, so that arrivals lagging by up to the jitter never exceed the limit.
        jitter_safe = (self.requests + 1 - self.capacity) / (
            self.window_seconds + self.jitter_seconds
        )
        return max(min(paced, jitter_safe), 1e-6)


class WaitTooLong(Exception):
    """The bucket asks for a longer wait than the caller may spend (its lease would run out)."""

    def __init__(self, wait: float, within: float):
        super().__init__(f"the rate limit asks to wait {wait:.1f} s, more than {within:.1f} s")
        self.wait = wait
        self.within = within


class LocalBucket:
    """The same reservation bucket for the threads of one process."""

    def __init__(self, limit: Limit, *, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.clock = clock
        self.lock = threading.Lock()
        self.tokens = limit.capacity
        self.ts = clock()

    def reserve(self, cost: float = 1.0, max_wait: float = 60.0) -> tuple[bool, float]:
        rate, capacity = self.limit.rate, self.limit.capacity
        with self.lock:
            now = self.clock()
            tokens = min(capacity, self.tokens + max(0.0, now - self.ts) * rate)
            wait = (cost - tokens) / rate if tokens < cost else 0.0
            if wait > max_wait:
                self.tokens, self.ts = tokens, now
                return False, wait
            self.tokens, self.ts = tokens - cost, now
            return True, wait


class RedisBucket:
    """A bucket shared by every process that uses the same Redis key."""

    def __init__(self, client, key: str, limit: Limit):
        self.client = client
        self.key = key
        self.limit = limit
        self.script = client.register_script(RESERVE_LUA)

    def reserve(self, cost: float = 1.0, max_wait: float = 60.0) -> tuple[bool, float]:
        reserved, wait = self.script(
            keys=[self.key], args=[self.limit.rate, self.limit.capacity, cost, max_wait]
        )
        return bool(int(reserved)), float(wait)


class RateLimiter:
    """`acquire()` returns once a request may be sent, after sleeping as long as needed.

    Uses Redis when a URL is given and Redis answers; falls back to an in-process bucket (and
    says so in the log) when it does not, since a missing shared bucket must not stop a push:
    the CRM's own 429 answers are still honoured.
    """

    def __init__(
        self,
        name: str,
        limit: Limit,
        *,
        redis_url: str = "",
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.name = name
        self.limit = limit
        self.sleep = sleep
        self.max_wait = max_wait
        self.local = LocalBucket(limit, clock=clock)
        self.shared: RedisBucket | None = None
        if redis_url:
            import redis

            client = redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=2)
            self.shared = RedisBucket(client, f"accord:crm:ratelimit:{name}", limit)
        self.waited = 0.0
        self._redis_down_until = 0.0

    def _reserve(self, cost: float, max_wait: float) -> tuple[bool, float]:
        if self.shared is not None and time.monotonic() >= self._redis_down_until:
            from redis.exceptions import RedisError

            try:
                return self.shared.reserve(cost, max_wait)
            except (RedisError, OSError) as error:
                # Try Redis again in a while rather than on every request.
                self._redis_down_until = time.monotonic() + REDIS_RETRY_SECONDS
                logger.warning(
                    "Rate limiter %s: Redis unavailable (%s); using a per-process bucket for %d s.",
                    self.name,
                    error,
                    REDIS_RETRY_SECONDS,
                )
        return self.local.reserve(cost, max_wait)

    def acquire(self, cost: float = 1.0, *, within: float | None = None) -> float:
        """Wait for `cost` tokens; returns the seconds waited. With `within`, a wait longer
        than that many seconds is refused (WaitTooLong) without taking a token: a pusher's
        lease bounds how long it may wait."""
        waited = 0.0
        while True:
            allowed = self.max_wait if within is None else min(self.max_wait, within - waited)
            reserved, wait = self._reserve(cost, max(0.0, allowed))
            if reserved:
                if wait > 0:
                    self.sleep(wait)
                    waited += wait
                self.waited += waited
                return waited
            if within is not None and waited + wait > within:
                self.waited += waited
                raise WaitTooLong(waited + wait, within)
            pause = min(wait, self.max_wait)
            self.sleep(pause)
            waited += pause


_limiters: dict[tuple, RateLimiter] = {}
_limiters_lock = threading.Lock()


def limiter(name: str, limit: Limit, *, redis_url: str = "") -> RateLimiter:
    """One limiter per (name, limit, Redis) in a process, so threads share the local bucket."""
    key = (name, limit, redis_url)
    with _limiters_lock:
        found = _limiters.get(key)
        if found is None:
            found = _limiters[key] = RateLimiter(name, limit, redis_url=redis_url)
        return found
