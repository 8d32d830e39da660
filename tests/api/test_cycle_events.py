"""GET /api/v1/cycles/{id}/events/: a cycle's history, for the people who may see the cycle."""

import pytest

from tests.api.conftest import client_for
from workflow import services
from workflow.models import CycleState

pytestmark = pytest.mark.django_db


def test_it_lists_state_and_settings_changes_with_who_and_what(people, the_cycle):
    services.cycle_set_state(cycle=the_cycle, state=CycleState.CLOSED, by=people.ops)
    services.cycle_update(
        cycle=the_cycle,
        by=people.ops,
        state=CycleState.ACTIVE,
        reason="Extended",
        marketing_quorum=2,
        tiers={3: {"capacity": 150}},
    )

    response = client_for(people.marketing_member).get(f"/api/v1/cycles/{the_cycle.pk}/events/")

    assert response.status_code == 200
    events = response.json()["results"]
    assert [(e["action"], e["from_state"], e["to_state"]) for e in events] == [
        ("closed", "active", "closed"),
        ("reopened", "closed", "active"),
        ("settings_changed", "active", "active"),
    ]
    assert all(e["actor"]["username"] == "olga" for e in events)
    assert events[1]["note"] == "Extended"
    assert events[2]["changes"] == [
        {"field": "marketing_quorum", "tier": None, "old": 1, "new": 2},
        {"field": "capacity", "tier": 3, "old": 200, "new": 150},
    ]


def test_it_is_paginated(people, the_cycle):
    for quorum in range(2, 6):
        services.cycle_update(cycle=the_cycle, by=people.ops, sales_quorum=quorum)

    response = client_for(people.ops).get(f"/api/v1/cycles/{the_cycle.pk}/events/?page_size=3")

    body = response.json()
    assert body["count"] == 4 and len(body["results"]) == 3 and body["next"]


def test_it_answers_404_for_a_cycle_that_does_not_exist(people):
    response = client_for(people.ops).get("/api/v1/cycles/999999/events/")

    assert response.status_code == 404


def test_integration_tokens_and_people_without_a_side_may_not_read_it(
    the_cycle, integration_token, outsider
):
    url = f"/api/v1/cycles/{the_cycle.pk}/events/"
    assert client_for(token=integration_token).get(url).status_code == 403
    assert client_for(outsider).get(url).status_code == 403
    assert client_for().get(url).status_code == 401
