import datetime as dt

import pytest
from django.contrib.auth.models import Permission

from tests.admin.helpers import agree
from tests.factories import UserFactory
from workflow.models import Cycle, CycleState, ListVersion, Tier

pytestmark = pytest.mark.django_db


def test_a_new_cycle_is_created_with_its_three_tiers(ops, ops_user):
    response = ops.post(
        "/admin/workflow/cycle/add/",
        {
            "name": "FY28 H1",
            "starts_on": "2028-01-01",
            "ends_on": "2028-06-30",
            "marketing_quorum": "1",
            "sales_quorum": "2",
            "proposer_counts": "on",
            "reminder_after_hours": "48",
            "escalate_after_hours": "96",
            "tier_1_capacity": "10",
            "tier_2_capacity": "30",
            "tier_3_capacity": "60",
        },
    )

    assert response.status_code == 302
    cycle = Cycle.objects.get(name="FY28 H1")
    assert cycle.state == CycleState.PLANNING
    assert cycle.sales_quorum == 2
    assert list(cycle.tiers.values_list("number", "capacity")) == [(1, 10), (2, 30), (3, 60)]


def test_a_cycle_is_edited_with_its_tiers_inline_but_not_its_state(ops, the_cycle):
    tiers = list(the_cycle.tiers.order_by("number"))
    data = {
        "name": the_cycle.name,
        "starts_on": "2027-01-01",
        "ends_on": "2027-06-30",
        "marketing_quorum": "1",
        "sales_quorum": "1",
        "proposer_counts": "on",
        "reminder_after_hours": "72",
        "escalate_after_hours": "168",
        "state": CycleState.CLOSED,  # ignored: read-only
        "tiers-TOTAL_FORMS": "3",
        "tiers-INITIAL_FORMS": "3",
        "tiers-MIN_NUM_FORMS": "0",
        "tiers-MAX_NUM_FORMS": "3",
        "events-TOTAL_FORMS": "0",
        "events-INITIAL_FORMS": "0",
    }
    for i, tier in enumerate(tiers):
        data[f"tiers-{i}-id"] = str(tier.pk)
        data[f"tiers-{i}-cycle"] = str(the_cycle.pk)
        data[f"tiers-{i}-capacity"] = str(tier.capacity)
    data["tiers-0-capacity"] = "5"
    data["tiers-0-required_roles"] = ["decision_maker", "champion"]

    response = ops.post(f"/admin/workflow/cycle/{the_cycle.pk}/change/", data)

    assert response.status_code == 302
    tier_1 = Tier.objects.get(cycle=the_cycle, number=1)
    assert tier_1.capacity == 5
    assert tier_1.required_roles == ["decision_maker", "champion"]
    the_cycle.refresh_from_db()
    assert the_cycle.state == CycleState.ACTIVE


def test_publishing_a_list_version_goes_through_the_service(ops, people, the_cycle):
    agree(the_cycle, people)

    response = ops.post(
        "/admin/workflow/cycle/",
        {"action": "publish_list_version", "_selected_action": [the_cycle.pk]},
        follow=True,
    )

    version = ListVersion.objects.get(cycle=the_cycle)
    assert version.number == 1 and len(version.entries) == 1
    assert "Published FY27 H1 version 1 (1 accounts)." in response.content.decode()


def test_the_service_refusal_is_shown_to_staff_who_are_not_ops(client, people, the_cycle):
    staff = UserFactory(username="stan", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_cycle", "change_cycle"])
    )
    client.force_login(staff)

    response = client.post(
        "/admin/workflow/cycle/",
        {"action": "publish_list_version", "_selected_action": [the_cycle.pk]},
        follow=True,
    )

    assert "Only revenue operations can publish list versions." in response.content.decode()
    assert not ListVersion.objects.exists()


def test_ops_close_a_cycle_with_an_action(ops, the_cycle):
    ops.post(
        "/admin/workflow/cycle/",
        {"action": "close", "_selected_action": [the_cycle.pk]},
    )

    the_cycle.refresh_from_db()
    assert the_cycle.state == CycleState.CLOSED
    assert the_cycle.ends_on == dt.date(2027, 6, 30)


def test_a_cycle_cannot_be_renamed_to_two_lines(ops, the_cycle):
    response = ops.get(f"/admin/workflow/cycle/{the_cycle.pk}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    data = {name: form[name].value() or "" for name in form.fields}
    data.update({"name": "FY27\r\nBcc: attacker@evil.example"})
    for key in ("tiers-TOTAL_FORMS", "tiers-INITIAL_FORMS"):
        data[key] = "0"

    response = ops.post(f"/admin/workflow/cycle/{the_cycle.pk}/change/", data)

    assert response.status_code == 200
    assert "must be on one line" in response.content.decode()
    the_cycle.refresh_from_db()
    assert the_cycle.name == "FY27 H1"
