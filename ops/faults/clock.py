"""A clock moved by hand, standing in for Django's (`timezone.now`, by which the outbox's
leases, retries and dead letters are measured) and for a monotonic clock (a token bucket's):
a wait "passes" by moving it, and `on_sleep` says what happens elsewhere meanwhile. The CRM
outage fault runs hours of the outbox's backoff on it in seconds; the lease tests
(tests/crm/fencing.py) use it too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from unittest import mock

from django.utils import timezone


class FakeClock:
    def __init__(self) -> None:
        self.at = timezone.now()
        self.ticks = 1000.0
        self.slept: list[float] = []
        self.on_sleep: Callable[[float], None] | None = None

    def now(self):
        return self.at

    def monotonic(self) -> float:
        return self.ticks

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)
        self.ticks += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.advance(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)


@contextlib.contextmanager
def fake_clock() -> Iterator[FakeClock]:
    """Django's `timezone.now` answers the fake clock's time while inside."""
    clock = FakeClock()
    with mock.patch("django.utils.timezone.now", clock.now):
        yield clock
