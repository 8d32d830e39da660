"""`Idempotency-Key` on POST: a repeat gets the first answer without acting twice."""

import datetime as dt
import threading
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from api.models import IdempotencyKey
from api.services import idempotency_keys_expire
from tests.api.conftest import client_for
from workflow import services
from workflow.models import Comment, Nomination, SignOff

N = "/api/v1/nominations/"


@pytest.fixture
def nomination(people, the_cycle, account):
    return services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )


def _nominate(client, cycle, account, key, **extra):
    body = {
        "cycle": cycle.pk,
        "account": account.pk,
        "kind": "add",
        "tier": 1,
        "rationale": "Fit",
        **extra,
    }
    return client.post(N, body, HTTP_IDEMPOTENCY_KEY=key)


def test_it_replays_the_first_answer_without_acting_twice(people, the_cycle, account, clients):
    first = _nominate(clients["proposer"], the_cycle, account, "k-1")
    again = _nominate(clients["proposer"], the_cycle, account, "k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert again["Location"] == first["Location"]
    assert "Idempotent-Replayed" not in first
    assert Nomination.objects.filter(account=account).count() == 1


def test_it_replays_a_decision_instead_of_refusing_a_second_one(nomination, clients):
    url = f"{N}{nomination.pk}/decisions/"
    sales = clients["other_side_approver"]
    first = sales.post(url, {"decision": "approve"}, HTTP_IDEMPOTENCY_KEY="approve-42")
    again = sales.post(url, {"decision": "approve"}, HTTP_IDEMPOTENCY_KEY="approve-42")
    assert first.status_code == again.status_code == 201
    assert again.json()["nomination"]["state"] == "approved"
    assert SignOff.objects.filter(nomination=nomination, person__username="sam").count() == 1
    # Without the key, the same request is a second decision, and refused.
    assert sales.post(url, {"decision": "approve"}).status_code == 409


def test_it_answers_422_for_the_same_key_with_a_different_body(nomination, clients):
    url = f"{N}{nomination.pk}/comments/"
    ops = clients["ops"]
    assert ops.post(url, {"body": "First"}, HTTP_IDEMPOTENCY_KEY="c-1").status_code == 201
    other = ops.post(url, {"body": "Second"}, HTTP_IDEMPOTENCY_KEY="c-1")
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"
    elsewhere = ops.post(f"{N}{nomination.pk}/withdraw/", {}, HTTP_IDEMPOTENCY_KEY="c-1")
    assert elsewhere.status_code == 422
    assert list(Comment.objects.values_list("body", flat=True)) == ["First"]


def test_it_treats_the_same_body_in_another_key_order_as_the_same_request(nomination, clients):
    url = f"{N}{nomination.pk}/decisions/"
    sales = clients["other_side_approver"]
    first = sales.post(
        url, {"decision": "request_changes", "note": "Tier 2?"}, HTTP_IDEMPOTENCY_KEY="o"
    )
    again = sales.generic(
        "POST",
        url,
        '{"note": "Tier 2?",   "decision": "request_changes"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="o",
    )
    assert first.status_code == again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"


def test_it_scopes_keys_to_the_caller(nomination, clients):
    url = f"{N}{nomination.pk}/comments/"
    for role in ("ops", "non_approver"):
        response = clients[role].post(url, {"body": "Same words"}, HTTP_IDEMPOTENCY_KEY="shared")
        assert response.status_code == 201
        assert "Idempotent-Replayed" not in response
    assert Comment.objects.filter(nomination=nomination).count() == 2


def test_it_keeps_no_answer_of_a_refused_request_so_the_key_can_be_used_again(
    the_cycle, account, clients
):
    refused = _nominate(clients["proposer"], the_cycle, account, "fix-me", rationale="")
    assert refused.status_code == 400
    fixed = _nominate(clients["proposer"], the_cycle, account, "fix-me")
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert IdempotencyKey.objects.get(key="fix-me").status_code == 201


def test_it_acts_again_once_a_key_has_expired(nomination, clients, settings):
    url = f"{N}{nomination.pk}/comments/"
    ops = clients["ops"]
    ops.post(url, {"body": "Hello"}, HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.filter(key="old").update(
        created_at=timezone.now()
        - dt.timedelta(hours=settings.API_IDEMPOTENCY_TTL_HOURS, minutes=1)
    )
    again = ops.post(url, {"body": "Hello"}, HTTP_IDEMPOTENCY_KEY="old")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again
    assert Comment.objects.filter(nomination=nomination).count() == 2
    assert IdempotencyKey.objects.filter(key="old").count() == 1


def test_it_deletes_expired_keys_and_keeps_the_others(nomination, clients):
    url = f"{N}{nomination.pk}/comments/"
    for key in ("a", "b"):
        clients["ops"].post(url, {"body": key}, HTTP_IDEMPOTENCY_KEY=key)
    IdempotencyKey.objects.filter(key="a").update(
        created_at=timezone.now() - dt.timedelta(hours=25)
    )
    assert idempotency_keys_expire() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["b"]
    IdempotencyKey.objects.filter(key="b").update(created_at=timezone.now() - dt.timedelta(days=2))
    out = StringIO()
    call_command("accord_expire_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("key", ["", "has space", "x" * 256, "naïve"])
def test_it_answers_400_for_a_key_that_is_not_visible_ascii(nomination, clients, key):
    response = clients["ops"].post(
        f"{N}{nomination.pk}/comments/", {"body": "Hi"}, HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["fields"]
    assert not Comment.objects.exists()


# --- Two requests at the same instant (PostgreSQL: real concurrent transactions) -------------


def _at_once(requests):
    """Run each (client, url, body, key) in its own thread, released together."""
    barrier = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def run(index, client, url, body, key):
        try:
            barrier.wait()
            answers[index] = client.post(url, body, HTTP_IDEMPOTENCY_KEY=key)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return answers


def _lock_waiters() -> int:
    """Connections to this test database that wait on a lock now."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # pg_stat_activity is read afresh
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _while_the_nomination_is_held(nomination, requests):
    """Send each (client, url, body, key) from its own thread while this test's connection holds
    the nomination row (FOR UPDATE). A comment's foreign key to it is checked at commit (FOR KEY
    SHARE), so the first request to insert its key waits there, inside its transaction, and a
    repeat waits on that key. Once every request waits, the row is let go."""
    answers = [None] * len(requests)

    def run(index, client, url, body, key):
        try:
            answers[index] = client.post(url, body, HTTP_IDEMPOTENCY_KEY=key)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)
    ]
    with transaction.atomic():
        Nomination.objects.select_for_update().get(pk=nomination.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _lock_waiters() < len(requests):
            assert time.monotonic() < deadline, "the requests never met"
            time.sleep(0.01)  # polls a condition; it is not a window the test relies on
    for thread in threads:
        thread.join(timeout=30)
    assert not any(thread.is_alive() for thread in threads), "a request hung"
    return answers


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_acts_once_for_two_concurrent_requests_with_the_same_key(people, the_cycle, account):
    nomination = services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )
    url = f"{N}{nomination.pk}/comments/"
    body = {"body": "Only once, please"}
    answers = _while_the_nomination_is_held(
        nomination, [(client_for(people.ops), url, body, "race") for _ in range(2)]
    )
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    assert sorted(a.get("Idempotent-Replayed", "no") for a in answers) == ["no", "true"]
    assert Comment.objects.filter(nomination=nomination).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_refuses_the_loser_of_a_race_with_the_same_key_and_another_body(
    people, the_cycle, account
):
    nomination = services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )
    url = f"{N}{nomination.pk}/comments/"
    answers = _while_the_nomination_is_held(
        nomination,
        [
            (client_for(people.ops), url, {"body": "One"}, "k"),
            (client_for(people.ops), url, {"body": "Two"}, "k"),
        ],
    )
    assert sorted(a.status_code for a in answers) == [201, 422]
    assert Comment.objects.filter(nomination=nomination).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_it_decides_once_for_concurrent_repeats_of_a_decision(people, the_cycle, account):
    nomination = services.nomination_create(
        cycle=the_cycle, account=account, kind="add", tier=1, rationale="Fit", by=people.marketer
    )
    url = f"{N}{nomination.pk}/decisions/"
    answers = _at_once(
        [
            (client_for(people.sales_approver), url, {"decision": "approve"}, "once")
            for _ in range(4)
        ]
    )
    assert [a.status_code for a in answers] == [201] * 4
    assert len({a.json()["decision"]["id"] for a in answers}) == 1
    assert SignOff.objects.filter(nomination=nomination, person=people.sales_approver).count() == 1
    assert Nomination.objects.get(pk=nomination.pk).state == "approved"
