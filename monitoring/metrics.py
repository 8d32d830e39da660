"""`/metrics` in Prometheus' text format: django-prometheus's request and database metrics of
this process, and Accord's own, computed from the database at scrape time.

Accord's metrics (AccordCollector) are read from the database, not counted in memory, so every
web machine answers the same figures however many web and worker processes there are, and a
worker's restart loses nothing: the outbox's backlog, the CRM's requests by outcome (summed
over the sync runs, which store the transport's counts), the durations of finished sync runs
and coverage snapshots (histograms), nominations by state, and how long ago Celery beat last
sent a scheduled task. A scrape costs the same few
queries whatever the data (tests/monitoring/test_metrics.py counts them).

Who may read it: an address in METRICS_ALLOWED_NETWORKS (the client's address as
config.client_ip finds it behind TRUSTED_PROXY_COUNT proxies) or a request carrying
`Authorization: Bearer <METRICS_TOKEN>`. Anyone else gets a 404; a wrong token a 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable
from datetime import timedelta

import prometheus_client
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet, Sum
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.utils import floatToGoString

from config.client_ip import client_ip
from coverage.models import Snapshot, SnapshotState
from crm.models import FINISHED_SYNC_STATES, SyncRun
from crm.selectors import outbox_backlog
from workflow.models import Nomination, State

# Upper bounds of the duration histograms, in seconds: a push of one approval takes well under
# a second, a full push or pull of a large list minutes, a snapshot of 20,000 accounts ~3 s.
SYNC_RUN_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
SNAPSHOT_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)


def _histogram(
    qs: QuerySet, *, start: str, end: str, buckets: Iterable[float], by: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], list[tuple[str, int]], float]]:
    """Cumulative bucket counts and the sum of `end - start` over the rows, per group of `by`,
    in one aggregate query: [(group values, [(le, count), …, ("+Inf", count)], sum seconds)]."""
    duration = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    buckets = list(buckets)
    aggregates = {
        f"le_{n}": Count("pk", filter=Q(duration__lte=timedelta(seconds=bound)))
        for n, bound in enumerate(buckets)
    }
    qs = qs.filter(**{f"{start}__isnull": False, f"{end}__isnull": False}).annotate(
        duration=duration
    )
    aggregates.update(count=Count("pk"), total=Sum("duration"))
    if by:
        rows = qs.values(*by).annotate(**aggregates).order_by(*by)
    else:
        rows = [qs.aggregate(**aggregates)]
    answer = []
    for row in rows:
        counts = [(floatToGoString(bound), row[f"le_{n}"]) for n, bound in enumerate(buckets)]
        counts.append(("+Inf", row["count"]))
        total = row["total"] or timedelta(0)
        answer.append((tuple(str(row[name]) for name in by), counts, total.total_seconds()))
    return answer


class AccordCollector:
    """Accord's metrics, read from the database at each scrape (six queries)."""

    def collect(self):
        backlog = outbox_backlog()
        yield GaugeMetricFamily(
            "accord_outbox_pending",
            "Outbox entries waiting for delivery to the CRM (pending or being pushed).",
            value=backlog.pending,
        )
        yield GaugeMetricFamily(
            "accord_outbox_dead_letters",
            "Outbox entries that gave up after CRM_OUTBOX_MAX_ATTEMPTS (ops retry them).",
            value=backlog.dead_letters,
        )
        age = 0.0
        if backlog.oldest_pending_at is not None:
            age = max(0.0, (timezone.now() - backlog.oldest_pending_at).total_seconds())
        yield GaugeMetricFamily(
            "accord_outbox_oldest_pending_age_seconds",
            "How long the longest-waiting pending change has waited (0 when none waits).",
            value=age,
        )

        requests = CounterMetricFamily(
            "accord_crm_requests",
            "HTTP requests to the CRM by outcome: sent (answered), throttled (429), "
            "failed (5xx or no answer); summed over every sync run.",
            labels=["backend", "outcome"],
        )
        rows = (
            SyncRun.objects.values("backend")
            .annotate(
                requests=Sum("requests"),
                throttled=Sum("rate_limited"),
                failed=Sum(F("server_errors") + F("network_errors")),
            )
            .order_by("backend")
        )
        for row in rows:
            throttled, failed = row["throttled"] or 0, row["failed"] or 0
            sent = max(0, (row["requests"] or 0) - throttled - failed)
            for outcome, value in (("sent", sent), ("throttled", throttled), ("failed", failed)):
                requests.add_metric([row["backend"], outcome], value)
        yield requests

        runs = HistogramMetricFamily(
            "accord_sync_run_duration_seconds",
            "Duration of finished CRM sync runs (started to finished), by kind and backend.",
            labels=["kind", "backend"],
        )
        finished = SyncRun.objects.filter(state__in=FINISHED_SYNC_STATES)
        for labels, counts, total in _histogram(
            finished,
            start="started_at",
            end="finished_at",
            buckets=SYNC_RUN_BUCKETS,
            by=("kind", "backend"),
        ):
            runs.add_metric(list(labels), counts, total)
        yield runs

        snapshots = HistogramMetricFamily(
            "accord_coverage_snapshot_duration_seconds",
            "Duration of finished coverage snapshots (taken to finished).",
        )
        done = Snapshot.objects.filter(state=SnapshotState.DONE)
        for _, counts, total in _histogram(
            done, start="taken_at", end="finished_at", buckets=SNAPSHOT_BUCKETS
        ):
            snapshots.add_metric([], counts, total)
        yield snapshots

        nominations = GaugeMetricFamily(
            "accord_nominations", "Nominations by state, in every cycle.", labels=["state"]
        )
        counts = dict(Nomination.objects.values_list("state").annotate(n=Count("pk")).order_by())
        for state in State:
            nominations.add_metric([state.value], counts.get(state.value, 0))
        yield nominations

        # django-celery-beat's scheduler saves each entry's last run every few minutes
        # (beat_sync_every, 3 minutes by default); the outbox sweeper runs every minute.
        last_run = PeriodicTask.objects.filter(enabled=True).aggregate(last=Max("last_run_at"))
        beat = GaugeMetricFamily(
            "accord_beat_last_run_age_seconds",
            "Seconds since Celery beat last sent a scheduled task (no sample before it ever "
            "has): beat saves it every few minutes, so above 10 minutes beat is not running.",
        )
        if last_run["last"] is not None:
            beat.add_metric([], max(0.0, (timezone.now() - last_run["last"]).total_seconds()))
        yield beat


def _allowed_address(request) -> bool:
    try:
        address = ipaddress.ip_address(client_ip(request) or "")
    except ValueError:
        return False
    # The settings checked the networks at start-up (config/settings.py).
    networks = (ipaddress.ip_network(n, strict=False) for n in settings.METRICS_ALLOWED_NETWORKS)
    return any(address in network for network in networks)


def _token(request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _process_registry():
    """django-prometheus's metrics: of every gunicorn worker when PROMETHEUS_MULTIPROC_DIR is
    set (docs/operations.md), of this process otherwise (as django_prometheus.exports does)."""
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return prometheus_client.REGISTRY


@login_not_required
def metrics(request):
    token = _token(request)
    if token is not None:
        expected = settings.METRICS_TOKEN
        if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
            return HttpResponseForbidden("Wrong metrics token.", content_type="text/plain")
    elif not _allowed_address(request):
        raise Http404
    accord = CollectorRegistry(auto_describe=False)
    accord.register(AccordCollector())
    body = prometheus_client.generate_latest(_process_registry())
    body += prometheus_client.generate_latest(accord)
    return HttpResponse(body, content_type=prometheus_client.CONTENT_TYPE_LATEST)
