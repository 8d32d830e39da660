"""Ops reopen a closed cycle from the admin by giving the reason on an intermediate page; the
reason goes to workflow.services.cycle_set_state and into the cycle's history."""

import pytest

from tests.factories import cycle
from workflow import services
from workflow.models import CycleEvent, CycleState

pytestmark = pytest.mark.django_db


@pytest.fixture
def closed(ops_user):
    c = cycle("FY26 H2")
    services.cycle_set_state(cycle=c, state=CycleState.CLOSED, by=ops_user)
    return c


def activate(client, c, **extra):
    return client.post(
        "/admin/workflow/cycle/", {"action": "activate", "_selected_action": [c.pk], **extra}
    )


def test_opening_a_closed_cycle_asks_why_first(ops, closed):
    response = activate(ops, closed)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Why do these cycles reopen?" in html and "FY26 H2 (closed)" in html
    closed.refresh_from_db()
    assert closed.state == CycleState.CLOSED


def test_the_reason_given_reopens_it_and_is_kept(ops, ops_user, closed):
    response = activate(ops, closed, reopen="Reopen", reason="The board extended the half")

    assert response.status_code == 302
    closed.refresh_from_db()
    assert closed.state == CycleState.ACTIVE
    event = CycleEvent.objects.filter(cycle=closed).last()
    assert (event.action, event.actor, event.note) == (
        "reopened",
        ops_user,
        "The board extended the half",
    )


def test_an_empty_reason_is_asked_for_again(ops, closed):
    response = activate(ops, closed, reopen="Reopen", reason="  ")

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    closed.refresh_from_db()
    assert closed.state == CycleState.CLOSED


def test_a_cycle_in_planning_opens_without_a_reason(ops):
    c = cycle("FY28 H1", state=CycleState.PLANNING)

    assert activate(ops, c).status_code == 302

    c.refresh_from_db()
    assert c.state == CycleState.ACTIVE
