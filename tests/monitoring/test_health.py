"""/healthz: each check by name with OK, failed or skipped, nothing more; any failure is a 503
(what a load balancer reads as "take this machine out")."""

from datetime import timedelta

import pytest

from crm.models import OutboxState
from ops.processes import free_port
from tests.crm.processes import RedisServer

pytestmark = pytest.mark.django_db


def health(client):
    response = client.get("/healthz")
    assert response["Content-Type"] == "application/json"
    assert "no-cache" in response["Cache-Control"]
    return response.status_code, response.json()


def test_it_answers_a_visitor_who_has_not_signed_in_with_every_check_ok(client, settings):
    settings.CELERY_BROKER_URL = ""

    status, answer = health(client)

    assert status == 200
    assert answer == {
        "status": "OK",
        "checks": {
            "database": "OK",
            "cache": "OK",
            # The embedded run has no broker (tasks run in-process): nothing to ping.
            "broker": "skipped",
            "outbox_oldest_pending": "OK",
            "outbox_dead_letters": "OK",
        },
    }


def test_a_change_waiting_for_the_crm_longer_than_the_threshold_answers_503(
    client, settings, outbox_entry
):
    settings.HEALTH_OUTBOX_MAX_AGE_SECONDS = 600
    outbox_entry(age=timedelta(seconds=500))
    outbox_entry(OutboxState.DELIVERED, age=timedelta(days=3))  # delivered long ago: fine
    assert health(client)[0] == 200

    outbox_entry(OutboxState.IN_FLIGHT, age=timedelta(seconds=700))
    status, answer = health(client)

    assert status == 503
    assert answer["status"] == "failed"
    assert answer["checks"]["outbox_oldest_pending"] == "failed"
    assert answer["checks"]["database"] == "OK"


def test_more_dead_letters_than_the_threshold_answer_503(client, settings, outbox_entry):
    settings.HEALTH_MAX_DEAD_LETTERS = 2
    for _ in range(2):
        outbox_entry(OutboxState.FAILED, age=timedelta(days=1))
    assert health(client)[1]["checks"]["outbox_dead_letters"] == "OK"

    outbox_entry(OutboxState.FAILED)
    status, answer = health(client)

    assert status == 503
    assert answer["checks"]["outbox_dead_letters"] == "failed"
    # A dead letter is not pending: the age check does not count it.
    assert answer["checks"]["outbox_oldest_pending"] == "OK"


def test_the_broker_is_pinged_when_one_is_set(client, settings):
    redis = RedisServer().start()
    try:
        settings.CELERY_BROKER_URL = redis.url
        status, answer = health(client)
    finally:
        redis.stop()

    assert status == 200
    assert answer["checks"]["broker"] == "OK"


def test_a_broker_that_does_not_answer_fails_without_naming_its_address(client, settings):
    port = free_port()  # nothing listens there
    settings.CELERY_BROKER_URL = f"redis://:s3cret-password@127.0.0.1:{port}/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == "failed"
    body = response.content.decode()
    for secret in ("127.0.0.1", str(port), "s3cret", "redis"):
        assert secret not in body
