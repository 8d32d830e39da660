"""The token bucket: below the CRM's limit in every window, shared by workers through Redis,
and the HubSpot sandbox never refusing a push paced by it."""

import logging
import threading
import time

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from crm.ratelimit import Limit, LocalBucket, RateLimiter, RedisBucket
from ops.processes import free_port
from tests.crm.processes import RedisServer


def most_in_any_window(moments: list[float], window: float) -> int:
    moments = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(moments):
        while moment - moments[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_the_bucket_stays_below_the_limit_in_every_window():
    now = [0.0]
    bucket = LocalBucket(Limit(190, 10.0, 0.95), clock=lambda: now[0])
    sends = []
    for _ in range(1000):  # everybody asks at once; each sends when told
        _, wait = bucket.reserve(max_wait=3600)
        sends.append(now[0] + wait)

    assert most_in_any_window(sends, 10.0) <= 190 - 5
    duration = max(sends)
    assert 1000 / duration == pytest.approx(190 * 0.95 / 10, rel=0.01)


def test_an_idle_bucket_allows_only_a_small_burst():
    now = [0.0]
    limit = Limit(100, 10.0, 0.95)
    bucket = LocalBucket(limit, clock=lambda: now[0])
    now[0] = 3600.0  # idle for an hour

    waits = [bucket.reserve()[1] for _ in range(5)]

    assert limit.capacity == 2
    assert waits[:2] == [0.0, 0.0]
    assert waits[2] > 0


@hypothesis_settings(max_examples=200, deadline=None)
@given(
    requests=st.integers(min_value=1, max_value=300),
    window=st.sampled_from([1.0, 10.0]),
    headroom=st.floats(min_value=0.5, max_value=1.0),
    rounds=st.lists(
        st.tuples(st.integers(min_value=1, max_value=60), st.floats(min_value=0, max_value=30)),
        min_size=1,
        max_size=6,
    ),
    lags=st.randoms(use_true_random=False),
)
def test_no_window_of_arrivals_exceeds_the_limit_when_they_lag_by_up_to_the_jitter(
    requests, window, headroom, rounds, lags
):
    """Bursts of requests, each sent when the bucket says, with idle pauses between them; the
    CRM counts each when it arrives, up to `jitter_seconds` after it left."""
    limit = Limit(requests, window, headroom)
    now = [0.0]
    bucket = LocalBucket(limit, clock=lambda: now[0])
    arrivals = []
    for count, pause in rounds:
        for _ in range(count):
            _, wait = bucket.reserve(max_wait=3600)
            now[0] += wait  # the sender sleeps as told, then sends
            arrivals.append(now[0] + lags.uniform(0, limit.jitter_seconds * 0.999))
        now[0] += pause

    assert most_in_any_window(arrivals, window) <= requests


def test_the_search_limit_leaves_room_for_jitter():
    """HubSpot's 5 searches a second: paced at 4.75 a second, the sixth search would leave 53 ms
    more than a second after the first; at 4 a second it leaves 0.25 s more."""
    limit = Limit(5, 1.0, 0.95)
    assert limit.capacity == 1
    assert limit.rate == 4.0
    assert Limit(190, 10.0, 0.95).rate == pytest.approx(18.05)  # already room enough: unchanged
    assert Limit(100, 10.0, 0.95).rate == pytest.approx(9.5)


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


def test_workers_share_one_bucket_in_redis(redis_server):
    import redis

    limit = Limit(20, 1.0, 0.95)  # 16 a second (19 would leave no room for jitter), burst 1
    key = "accord:test:shared"
    client = redis.Redis.from_url(redis_server.url)
    client.delete(key)
    workers = [RedisBucket(client, key, limit) for _ in range(4)]
    sends: list[float] = []  # when each reservation may be used
    lock = threading.Lock()

    def ask(bucket):
        for _ in range(10):
            reserved, wait = bucket.reserve(max_wait=60)
            assert reserved
            with lock:
                sends.append(time.monotonic() + wait)

    started = time.monotonic()
    threads = [threading.Thread(target=ask, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # 40 tokens from one bucket of 16 a second: about 2.4 s of sending, whoever asked, and never
    # more than the limit in a second (one more allowed for the clock of this test).
    assert len(sends) == 40
    assert limit.rate == 16.0
    assert max(sends) - started == pytest.approx(39 / 16, abs=0.25)
    assert most_in_any_window(sends, 1.0) <= 21


def test_a_limiter_without_redis_falls_back_to_its_own_bucket(caplog):
    slept = []
    limiter = RateLimiter(
        "test-fallback",
        Limit(10, 1.0, 0.95),
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        sleep=slept.append,
    )

    with caplog.at_level(logging.WARNING, "crm.ratelimit"):
        for _ in range(3):
            limiter.acquire()

    assert "Redis unavailable" in caplog.text
    assert caplog.text.count("Redis unavailable") == 1  # not on every request
    assert len(slept) == 2 and all(s > 0 for s in slept)


@pytest.mark.django_db
def test_a_push_paced_by_the_bucket_is_never_refused(settings, fast_retries, people, the_cycle):
    """The sandbox allows 5 requests a second, less than Accord would send unpaced; 11 requests
    go out as fast as the bucket allows, and none of them meets a 429."""
    from crm import services
    from crm.sandbox import run_sandbox
    from tests.crm.helpers import TOKEN, bulk_list, companies, queue_cycle

    with run_sandbox(
        "hubspot", token=TOKEN, rate_limit=5, rate_window_seconds=1.0, search_rate_limit=100
    ) as sandbox:
        settings.CRM_BACKEND = "hubspot"
        settings.HUBSPOT_BASE_URL = sandbox.url
        settings.HUBSPOT_ACCESS_TOKEN = TOKEN
        settings.HUBSPOT_RATE_LIMIT = 5
        settings.HUBSPOT_RATE_WINDOW_SECONDS = 1.0
        from crm.adapters import get_adapter

        get_adapter("hubspot").ensure_properties()
        bulk_list(people, the_cycle, 1000)
        queue_cycle(the_cycle)
        started = time.monotonic()

        run = services.outbox_push(trigger="command")

        assert run.state == "succeeded"
        assert sandbox.counters()["rate_limited"] == 0
        assert run.detail["rate_limited"] == 0
        assert len(companies(sandbox)) == 1000
        # 11 requests (a search and 10 upserts; the property's 2 came before) at 4 a second.
        assert Limit(5, 1.0).rate == 4.0
        assert time.monotonic() - started >= (11 + 2 - 2) / 4.0 - 0.3
        # Unpaced, nothing would wait; how long the pacing waits shrinks when the machine is
        # busy (slow requests use up the interval themselves), so only its presence is asserted.
        assert run.detail["waited_seconds"] > 0.2
