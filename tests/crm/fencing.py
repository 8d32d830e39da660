"""What the lease tests need: a clock moved by hand (ops/faults/clock.py, shared with the CRM
outage fault), and a HubSpot worker that waits on it.

The clock stands in for Django's (`timezone.now`, which the outbox's leases are measured by)
and for the monotonic clock of the worker's token bucket; a wait "passes" by moving it, and
`on_sleep` says what happens elsewhere meanwhile (another worker, a change of the list).
"""

from __future__ import annotations

from crm import selectors, services
from crm.adapters import RetryPolicy, get_adapter
from crm.adapters.hubspot import HubSpotAdapter
from crm.models import DeliveredPayload
from crm.ratelimit import Limit, RateLimiter
from ops.faults.clock import FakeClock, fake_clock
from tests.crm.helpers import KEY_PROPERTY, TOKEN

__all__ = ["FakeClock", "expected_digest", "fake_clock", "hubspot_worker", "stored_digest"]


def hubspot_worker(
    sandbox, clock: FakeClock, *, limit: Limit, drained: bool = False, match_domains=True
):
    """A worker's HubSpot adapter with a token bucket of its own on the fake clock (emptied
    first when `drained`, so that its first request waits)."""
    limiter = RateLimiter(
        f"test-worker-{id(clock)}", limit, sleep=clock.sleep, clock=clock.monotonic
    )
    if drained:
        while limiter.local.reserve(max_wait=0)[0]:
            pass
    return HubSpotAdapter(
        base_url=sandbox.url,
        token=TOKEN,
        key_property=KEY_PROPERTY,
        transport_options={
            "timeout": 2.0,
            "policy": RetryPolicy(max_tries=1),
            "limiter": limiter,
        },
        match_domains=match_domains,
        sleep=clock.sleep,
    )


def one_request_per(seconds: float) -> Limit:
    """A bucket that lets one request through, then one every `seconds` (no room for jitter:
    these tests' clock is simulated)."""
    return Limit(1, seconds, 1.0, jitter_seconds=0.0)


def expected_digest(account) -> str:
    """The digest of what Accord would send for the account now."""
    adapter = get_adapter("hubspot")
    try:
        return services.digest(adapter.render(selectors.push_payloads([account.pk])[account.pk]))
    finally:
        adapter.close()


def stored_digest(account) -> str | None:
    return (
        DeliveredPayload.objects.filter(account=account, backend="hubspot")
        .values_list("digest", flat=True)
        .first()
    )
