"""Fifty API clients signing off, commenting and withdrawing on the same twenty nominations at
once, over real HTTP to gunicorn as production runs it (two workers of eight threads) on
PostgreSQL. Afterwards every answer is matched to what the database holds and the invariant
checker (`manage.py check_invariants`) runs over the cycle."""

import io
import os
import random
import threading
from collections import Counter

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from api.services import api_token_issue
from ops.processes import WebServer
from tests.factories import AccountFactory, cycle, person
from tests.workflow.helpers import nominate
from workflow.models import Comment, Nomination, NominationEvent, SignOff, State

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

NOMINATIONS = 20
PER_CLIENT = 8


@pytest.fixture
def web(tmp_path):
    """gunicorn on the test database (its rows are committed: a transactional test)."""
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL")  # the postgres marker fails it in CI first
    db = settings.DATABASES["default"]
    server = WebServer(
        {
            **os.environ,
            "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CONN_MAX_AGE": "0",
            "CELERY_BROKER_URL": "",
            "API_THROTTLE_USER": "100000/min",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DEBUG": "false",
        },
        tmp_path,
        threads=8,
    ).start()
    yield server
    server.stop()


def _clients():
    """(person, role) × 50: approvers of both sides, proposers, members who may only talk."""
    cast = [(person(f"mapp{i}", side="marketing", approver=True), "approver") for i in range(20)]
    cast += [(person(f"sapp{i}", side="sales", approver=True), "approver") for i in range(20)]
    cast += [(person(f"prop{i}", side="marketing"), "proposer") for i in range(5)]
    cast += [(person(f"memb{i}", side="sales"), "member") for i in range(5)]
    return cast


def _plan(role: str, user, nominations, rng: random.Random):
    """What one client does: eight of the twenty nominations, in its own order (each
    nomination gets about twenty clients; all of them would only add 409s)."""
    steps = []
    if role == "proposer":  # withdraws some of its own, racing the sign-offs
        for n in nominations:
            if n.proposer_id == user.pk and rng.random() < 0.4:
                url = f"/api/v1/nominations/{n.pk}/withdraw/"
                steps.append(("withdraw", n.pk, url, {"note": "Changed our minds"}))
    for n in rng.sample(nominations, PER_CLIENT):
        url = f"/api/v1/nominations/{n.pk}/"
        roll = rng.random()
        if role == "approver":
            if roll < 0.05:
                steps.append(
                    ("decision", n.pk, url + "decisions/", {"decision": "reject", "note": "No"})
                )
            elif roll < 0.10:
                note = {"decision": "request_changes", "note": "Tier?"}
                steps.append(("decision", n.pk, url + "decisions/", note))
            else:
                steps.append(("decision", n.pk, url + "decisions/", {"decision": "approve"}))
            if roll > 0.8:
                steps.append(
                    ("comment", n.pk, url + "comments/", {"body": f"{user.username} agrees"})
                )
        elif role == "proposer":
            steps.append(("comment", n.pk, url + "comments/", {"body": "What do you think?"}))
        else:
            steps.append(("decision", n.pk, url + "decisions/", {"decision": "approve"}))
            steps.append(("comment", n.pk, url + "comments/", {"body": "Interesting one"}))
    return steps


def test_fifty_clients_at_once_leave_every_invariant_intact(web):
    the_cycle = cycle(
        marketing_quorum=2, sales_quorum=2, proposer_counts=False, capacities=(50, 50, 50)
    )
    cast = _clients()
    proposers = [p for p, role in cast if role == "proposer"]
    nominations = [
        nominate(proposers[i % len(proposers)], the_cycle, AccountFactory(), tier=1 + i % 3)
        for i in range(NOMINATIONS)
    ]
    tokens = {p.pk: api_token_issue(user=p) for p, _ in cast}
    rng = random.Random(20261202)
    plans = [(p, _plan(role, p, nominations, rng)) for p, role in cast]

    barrier = threading.Barrier(len(plans))
    answers: list[tuple] = []  # (kind, nomination id, person id, status, body)
    lock = threading.Lock()
    failures: list[str] = []

    def run(user, steps):
        with httpx.Client(
            base_url=web.url,
            headers={"Authorization": f"Token {tokens[user.pk]}"},
            timeout=60,
        ) as client:
            barrier.wait(timeout=30)
            for kind, nomination_id, url, body in steps:
                response = client.post(url, json=body)
                with lock:
                    answers.append(
                        (kind, nomination_id, user.pk, response.status_code, response.text)
                    )

    threads = [threading.Thread(target=run, args=plan) for plan in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not failures, failures[:3]
    assert len(answers) == sum(len(steps) for _, steps in plans)

    statuses = Counter(status for *_, status, _ in answers)
    assert not [a for a in answers if a[3] >= 500], [a for a in answers if a[3] >= 500][:3]
    # Accepted, refused by a rule (409: no longer in review) or by a role (403: not an approver).
    assert set(statuses) <= {200, 201, 403, 409}, statuses
    assert statuses[201] > 0 and statuses[409] > 0

    # Every accepted decision is one stored sign-off, and every stored sign-off was accepted.
    accepted = Counter(
        (n, p) for kind, n, p, status, _ in answers if kind == "decision" and status == 201
    )
    stored = Counter(
        SignOff.objects.filter(nomination__cycle=the_cycle, by_submission=False).values_list(
            "nomination_id", "person_id"
        )
    )
    assert accepted == stored
    comments = sum(1 for kind, *_, status, _ in answers if kind == "comment" and status == 201)
    assert Comment.objects.filter(nomination__cycle=the_cycle).count() == comments
    withdrawn = {n for kind, n, _, status, _ in answers if kind == "withdraw" and status == 200}
    assert withdrawn == set(
        Nomination.objects.filter(cycle=the_cycle, state=State.WITHDRAWN).values_list(
            "pk", flat=True
        )
    )
    assert NominationEvent.objects.filter(
        nomination__cycle=the_cycle, action="withdrawn"
    ).count() == len(withdrawn)
    # Members may talk but not decide.
    assert all(
        status == 403
        for kind, _, p, status, _ in answers
        if kind == "decision" and p in {u.pk for u, role in cast if role == "member"}
    )
    # Some were agreed under the race; each decided nomination left review exactly once.
    assert Nomination.objects.filter(cycle=the_cycle, state=State.APPROVED).exists()

    out = io.StringIO()
    call_command("check_invariants", "--cycle", str(the_cycle.pk), stdout=out)
    assert f"All invariants hold: {NOMINATIONS} nominations" in out.getvalue()
