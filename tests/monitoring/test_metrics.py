"""/metrics: Prometheus' text format with django-prometheus's request and database metrics and
Accord's own, read from the database at scrape time; only allowed networks or the token."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from coverage.models import Snapshot
from coverage.services import snapshot_take
from crm import services as crm_services
from crm.models import OutboxState, SyncKind, SyncRun, SyncState
from tests.crm.helpers import bulk_list, queue_cycle
from tests.factories import AccountFactory
from tests.test_settings import STRONG_KEY, manage
from tests.workflow.helpers import decide, nominate, put_on_list

pytestmark = pytest.mark.django_db

OUTSIDE = "203.0.113.7"
TOKEN = "metrics-token-0123456789abcdef0123456789"


def scrape(client, **headers) -> dict[str, dict]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return {
        family.name: {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for sample in family.samples
        }
        for family in text_string_to_metric_families(response.content.decode())
    }


def value(metrics, family, sample=None, **labels):
    return metrics[family][(sample or family, tuple(sorted(labels.items())))]


# --- who may read it ---------------------------------------------------------------------------


def test_loopback_may_read_it_by_default(client):
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="::1").status_code == 200


def test_an_address_outside_the_allowed_networks_gets_a_404(client):
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 404


def test_an_allowed_network_may_read_it(client, settings):
    settings.METRICS_ALLOWED_NETWORKS = ["203.0.113.0/24"]
    assert client.get("/metrics", REMOTE_ADDR=OUTSIDE).status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 404


def test_the_token_lets_any_address_read_it_and_a_wrong_one_is_refused(client, settings):
    settings.METRICS_TOKEN = TOKEN
    ok = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert ok.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403


def test_no_token_is_accepted_when_none_is_set(client, settings):
    settings.METRICS_TOKEN = ""
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ")
    assert response.status_code == 403


def test_a_forged_forwarded_address_does_not_pass_without_trusted_proxies(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    response = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert response.status_code == 404


def test_behind_a_trusted_proxy_the_clients_address_counts(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The proxy on loopback forwards an outside client: refused, though REMOTE_ADDR is loopback.
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR=OUTSIDE)
    assert response.status_code == 404


# --- what it says ------------------------------------------------------------------------------


def test_it_has_django_prometheus_request_and_database_metrics(client):
    client.get("/login/")
    metrics = scrape(client)
    assert "django_http_requests_total_by_method" in metrics
    assert "django_db_execute" in metrics


def test_the_outbox_backlog(client, outbox_entry):
    outbox_entry(OutboxState.PENDING, age=timedelta(minutes=10))
    outbox_entry(OutboxState.IN_FLIGHT, age=timedelta(minutes=2))
    outbox_entry(OutboxState.FAILED, age=timedelta(days=2))
    outbox_entry(OutboxState.DELIVERED, age=timedelta(days=5))

    metrics = scrape(client)

    assert value(metrics, "accord_outbox_pending") == 2
    assert value(metrics, "accord_outbox_dead_letters") == 1
    age = value(metrics, "accord_outbox_oldest_pending_age_seconds")
    assert 600 <= age < 660


def test_an_empty_outbox_has_no_age(client):
    assert value(scrape(client), "accord_outbox_oldest_pending_age_seconds") == 0


def test_crm_requests_by_outcome_are_summed_over_the_runs(client, hubspot, people, the_cycle):
    # Two pushes of new accounts, each meeting a 429, a 503 and a reset connection before its
    # write succeeds.
    for n in range(2):
        bulk_list(people, the_cycle, 5, prefix=f"push{n}")
        queue_cycle(the_cycle)
        hubspot.set_faults(sequence=["429", "503", "reset"], path="/batch/(upsert|update)$")
        run = crm_services.outbox_push(trigger="command")
        assert run.state == SyncState.SUCCEEDED
    runs = list(SyncRun.objects.all())
    assert [(r.rate_limited, r.server_errors, r.network_errors) for r in runs] == [(1, 1, 1)] * 2
    requests = sum(r.requests for r in runs)

    metrics = scrape(client)

    family = "accord_crm_requests"
    sample = "accord_crm_requests_total"
    assert value(metrics, family, sample, backend="hubspot", outcome="throttled") == 2
    assert value(metrics, family, sample, backend="hubspot", outcome="failed") == 4
    assert value(metrics, family, sample, backend="hubspot", outcome="sent") == requests - 6


def test_sync_run_durations_by_kind_and_backend(client):
    now = timezone.now()
    for seconds, kind, state in (
        (0.2, SyncKind.PUSH, SyncState.SUCCEEDED),
        (3, SyncKind.PUSH, SyncState.FAILED),
        (45, SyncKind.PULL, SyncState.PARTIAL),
        (9999, SyncKind.PUSH, SyncState.RUNNING),  # not finished: not counted
    ):
        SyncRun.objects.create(
            kind=kind,
            backend="hubspot",
            trigger="command",
            state=state,
            started_at=now - timedelta(seconds=seconds),
            finished_at=now if state != SyncState.RUNNING else None,
        )

    metrics = scrape(client)

    family = "accord_sync_run_duration_seconds"
    push = {"kind": "push", "backend": "hubspot"}
    assert value(metrics, family, f"{family}_count", **push) == 2
    assert value(metrics, family, f"{family}_sum", **push) == pytest.approx(3.2)
    assert value(metrics, family, f"{family}_bucket", le="0.5", **push) == 1
    assert value(metrics, family, f"{family}_bucket", le="5.0", **push) == 2
    pull = {"kind": "pull", "backend": "hubspot"}
    assert value(metrics, family, f"{family}_bucket", le="30.0", **pull) == 0
    assert value(metrics, family, f"{family}_bucket", le="60.0", **pull) == 1


def test_snapshot_durations(client, people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory())
    taken = snapshot_take(cycle=the_cycle)
    # A second one, of yesterday, that took 40 s.
    longer = snapshot_take(cycle=the_cycle, as_of=timezone.now() - timedelta(days=1))
    Snapshot.objects.filter(pk=longer.pk).update(
        finished_at=longer.taken_at + timedelta(seconds=40)
    )
    taken.refresh_from_db()

    metrics = scrape(client)

    family = "accord_coverage_snapshot_duration_seconds"
    assert value(metrics, family, f"{family}_count") == 2
    own = (taken.finished_at - taken.taken_at).total_seconds()
    assert value(metrics, family, f"{family}_sum") == pytest.approx(40 + own, abs=0.01)
    assert value(metrics, family, f"{family}_bucket", le="30.0") == 1
    assert value(metrics, family, f"{family}_bucket", le="60.0") == 2


def test_nominations_by_state(client, people, the_cycle):
    approved = nominate(people.marketer, the_cycle, AccountFactory())
    decide(approved, people.sales_approver)
    nominate(people.marketer, the_cycle, AccountFactory())
    nominate(people.marketer, the_cycle, AccountFactory(), submit=False)

    metrics = scrape(client)

    assert value(metrics, "accord_nominations", state="approved") == 1
    assert value(metrics, "accord_nominations", state="in_review") == 1
    assert value(metrics, "accord_nominations", state="draft") == 1
    assert value(metrics, "accord_nominations", state="rejected") == 0


def test_how_long_ago_beat_last_sent_a_scheduled_task(client):
    from django_celery_beat.models import PeriodicTask

    PeriodicTask.objects.update(last_run_at=None)
    assert scrape(client)["accord_beat_last_run_age_seconds"] == {}  # never ran: no sample
    sweeper = PeriodicTask.objects.filter(enabled=True).first()
    sweeper.last_run_at = timezone.now() - timedelta(minutes=12)
    sweeper.save(update_fields=["last_run_at"])
    PeriodicTask.objects.filter(enabled=False).update(last_run_at=timezone.now())  # not counted
    age = value(scrape(client), "accord_beat_last_run_age_seconds")
    assert 12 * 60 <= age < 12 * 60 + 30


def test_a_scrape_costs_the_same_six_queries_whatever_the_data(
    client, people, the_cycle, outbox_entry, django_assert_num_queries
):
    def data(n):
        for _ in range(n):
            outbox_entry(OutboxState.PENDING)
            outbox_entry(OutboxState.FAILED)
            nominate(people.marketer, the_cycle, AccountFactory())
            for kind in SyncKind:
                SyncRun.objects.create(
                    kind=kind,
                    backend="hubspot",
                    trigger="command",
                    state=SyncState.SUCCEEDED,
                    started_at=timezone.now(),
                    finished_at=timezone.now(),
                    requests=3,
                )

    data(1)
    with django_assert_num_queries(6):
        scrape(client)
    data(20)
    with django_assert_num_queries(6):
        scrape(client)


# --- its settings ------------------------------------------------------------------------------


def test_a_network_that_is_not_a_cidr_refuses_to_start():
    result = manage("check", METRICS_ALLOWED_NETWORKS="10.0.0.0/8,intranet")
    assert result.returncode != 0
    assert "METRICS_ALLOWED_NETWORKS" in result.stderr


def test_production_refuses_a_short_metrics_token():
    production = {"ACCORD_ENV": "production", "SECRET_KEY": STRONG_KEY}
    result = manage("check", METRICS_TOKEN="short", **production)
    assert result.returncode != 0
    assert "METRICS_TOKEN must be 32+" in result.stderr
    assert manage("check", METRICS_TOKEN=TOKEN, **production).returncode == 0
