"""`/healthz`: one answer for load balancers and uptime monitors, from django-health-check.

The checks: the database, the cache, the Celery broker (a Redis ping; skipped when tasks run
in-process, the embedded default), and Accord's own: the outbox's longest-waiting change and
its dead letters, against HEALTH_OUTBOX_MAX_AGE_SECONDS and HEALTH_MAX_DEAD_LETTERS.

The answer is JSON naming each check with "OK", "failed" or "skipped" and nothing else: the
library's own answers name hosts and ports (and its error texts may), which a page anyone may
read must not. Why a check failed is in the log (django-health-check logs it). Any failure
answers 503, which load balancers read as "take this machine out" (the library answers 500).
"""

from __future__ import annotations

import asyncio
import dataclasses

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from health_check.base import HealthCheck
from health_check.checks import Cache, Database
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

from crm.selectors import outbox_backlog

OK, FAILED, SKIPPED = "OK", "failed", "skipped"


class _DatabaseCheck(HealthCheck):
    """An Accord check that reads the database through the ORM. It runs in the request's own
    thread (sync_to_async's default), on the request's connection: the library would run a
    synchronous check in a pool thread, which opens a connection of its own every time."""

    async def run(self) -> None:
        await sync_to_async(self.probe)()

    def probe(self) -> None:
        raise NotImplementedError


@dataclasses.dataclass
class OutboxAge(_DatabaseCheck):
    """The change waiting longest for the CRM is younger than HEALTH_OUTBOX_MAX_AGE_SECONDS."""

    def probe(self) -> None:
        oldest = outbox_backlog().oldest_pending_at
        if oldest is None:
            return
        age = (timezone.now() - oldest).total_seconds()
        if age > settings.HEALTH_OUTBOX_MAX_AGE_SECONDS:
            raise ServiceUnavailable(
                f"The oldest pending outbox entry waits for {age:.0f} s "
                f"(threshold {settings.HEALTH_OUTBOX_MAX_AGE_SECONDS} s)."
            )


@dataclasses.dataclass
class DeadLetters(_DatabaseCheck):
    """No more than HEALTH_MAX_DEAD_LETTERS outbox entries have given up."""

    def probe(self) -> None:
        dead = outbox_backlog().dead_letters
        if dead > settings.HEALTH_MAX_DEAD_LETTERS:
            raise ServiceUnavailable(
                f"{dead} outbox entries are dead letters "
                f"(threshold {settings.HEALTH_MAX_DEAD_LETTERS})."
            )


def _broker() -> HealthCheck | None:
    """A ping of the Celery broker's Redis; None (skipped) without a Redis broker."""
    url = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    from health_check.contrib.redis import Redis
    from redis.asyncio import Redis as RedisClient

    return Redis(
        client_factory=lambda: RedisClient.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    )


class HealthView(HealthCheckView):
    def named_checks(self) -> list[tuple[str, HealthCheck | None]]:
        return [
            ("database", Database()),
            ("cache", Cache()),
            ("broker", _broker()),
            ("outbox_oldest_pending", OutboxAge()),
            ("outbox_dead_letters", DeadLetters()),
        ]

    def get_checks(self):
        return (check for _, check in self.named_checks() if check is not None)

    async def get(self, request, *args, **kwargs):
        named = self.named_checks()
        with self.get_executor() as executor:
            results = iter(
                await asyncio.gather(
                    *(check.get_result(executor) for _, check in named if check is not None)
                )
            )
        checks = {
            name: SKIPPED if check is None else (FAILED if next(results).error else OK)
            for name, check in named
        }
        failed = FAILED in checks.values()
        return JsonResponse(
            {"status": FAILED if failed else OK, "checks": checks}, status=503 if failed else 200
        )
