"""PATCH /api/v1/cycles/{id}/: revenue operations change a cycle's state and settings
through workflow.services.cycle_update; 409 with the reason where a rule refuses."""

import pytest

from tests.api.conftest import client_for
from tests.factories import AccountFactory
from tests.workflow.helpers import decide, fresh, nominate, on_list, put_on_list
from workflow.models import CycleEvent, CycleState, State, Tier

pytestmark = pytest.mark.django_db


def patch(client, cycle, body):
    return client.patch(f"/api/v1/cycles/{cycle.pk}/", body, format="json")


def test_ops_change_quorums_delays_and_tiers(people, the_cycle):
    response = patch(
        client_for(people.ops),
        the_cycle,
        {
            "sales_quorum": 2,
            "proposer_counts": False,
            "reminder_after_hours": 24,
            "escalate_after_hours": 48,
            "tiers": [{"number": 1, "capacity": 20, "required_roles": ["champion"]}],
            "reason": "New planning rules",
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["sales_quorum"], body["proposer_counts"]) == (2, False)
    assert (body["reminder_after_hours"], body["escalate_after_hours"]) == (24, 48)
    assert body["tiers"][0] == {
        "number": 1,
        "capacity": 20,
        "used": 0,
        "required_roles": ["champion"],
    }
    assert body["tiers"][1]["capacity"] == 100  # a tier not sent is left as it was
    event = CycleEvent.objects.get(cycle=the_cycle, action="settings_changed")
    assert event.actor == people.ops and event.note == "New planning rules"


@pytest.mark.parametrize("role", ["marketer", "sales_approver", "marketing_member"])
def test_people_on_a_side_may_not_change_a_cycle(people, the_cycle, role):
    response = patch(client_for(getattr(people, role)), the_cycle, {"sales_quorum": 3})

    assert response.status_code == 403
    assert response.json()["detail"] == "Only revenue operations can do this."
    the_cycle.refresh_from_db()
    assert the_cycle.sales_quorum == 1
    assert not CycleEvent.objects.filter(cycle=the_cycle).exists()


def test_a_capacity_below_the_accounts_on_the_tier_answers_409_with_the_reason(people, the_cycle):
    put_on_list(people, the_cycle, AccountFactory(), tier=2)
    put_on_list(people, the_cycle, AccountFactory(), tier=2)

    response = patch(client_for(people.ops), the_cycle, {"tiers": [{"number": 2, "capacity": 1}]})

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "conflict"
    assert "Tier 2 of FY27 H1 has 2 accounts on the list" in body["detail"]
    assert "capacity" in body["fields"]
    assert Tier.objects.get(cycle=the_cycle, number=2).capacity == 100


def test_reopening_needs_a_reason_and_the_reason_is_kept(people, the_cycle):
    ops = client_for(people.ops)
    assert patch(ops, the_cycle, {"state": "closed"}).status_code == 200

    refused = patch(ops, the_cycle, {"state": "active"})
    assert refused.status_code == 400
    assert "Say why" in refused.json()["fields"]["reason"][0]

    reopened = patch(ops, the_cycle, {"state": "active", "reason": "Closed by mistake"})
    assert reopened.status_code == 200 and reopened.json()["state"] == CycleState.ACTIVE
    assert CycleEvent.objects.filter(cycle=the_cycle).last().note == "Closed by mistake"


def test_a_transition_the_cycle_does_not_allow_answers_409(people, the_cycle):
    response = patch(client_for(people.ops), the_cycle, {"state": "planning"})

    assert response.status_code == 409
    assert "cannot go back to planning" in response.json()["detail"]


def test_lowering_a_quorum_over_the_api_approves_what_both_sides_now_agree_on(people, the_cycle):
    patch(client_for(people.ops), the_cycle, {"sales_quorum": 2})
    n = nominate(people.marketer, the_cycle, AccountFactory(), tier=3)
    decide(n, people.sales_approver)

    response = patch(client_for(people.ops), the_cycle, {"sales_quorum": 1})

    assert response.status_code == 200
    assert fresh(n).state == State.APPROVED
    assert on_list(the_cycle) == {n.account_id: 3}
    assert response.json()["tiers"][2]["used"] == 1


def test_a_lowering_that_would_overfill_a_tier_answers_409(people, the_cycle):
    ops = client_for(people.ops)
    patch(ops, the_cycle, {"sales_quorum": 2, "tiers": [{"number": 3, "capacity": 0}]})
    n = nominate(people.marketer, the_cycle, AccountFactory(), tier=3)
    decide(n, people.sales_approver)

    response = patch(ops, the_cycle, {"sales_quorum": 1})

    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"Lowering the quorum would approve #{n.pk}")
    assert "Tier 3 of FY27 H1 is full" in response.json()["detail"]
    assert fresh(n).state == State.IN_REVIEW
    both = patch(ops, the_cycle, {"sales_quorum": 1, "tiers": [{"number": 3, "capacity": 1}]})
    assert both.status_code == 200 and fresh(n).state == State.APPROVED


@pytest.mark.parametrize(
    "body",
    [
        {"sales_quorum": 0},
        {"tiers": [{"number": 1, "capacity": 5}, {"number": 1, "capacity": 6}]},
        {"tiers": [{"number": 4, "capacity": 5}]},
        {"name": "Renamed"},  # not a setting this endpoint changes
        {"side": "sales"},
    ],
)
def test_it_refuses_a_body_it_cannot_use_with_400(people, the_cycle, body):
    assert patch(client_for(people.ops), the_cycle, body).status_code == 400
